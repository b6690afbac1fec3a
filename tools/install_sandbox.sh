#!/usr/bin/env bash
# Install bubblewrap, the sandbox `course grade` and `course check` run students' kernels in
# (grader/sandbox.py), unless it is there; setpriv and prlimit come with util-linux. Needs root
# (or sudo) on Debian/Ubuntu; elsewhere, install bubblewrap with the system's package manager.
set -euo pipefail

if command -v bwrap >/dev/null 2>&1 && command -v setpriv >/dev/null 2>&1 && command -v prlimit >/dev/null 2>&1; then
    echo "sandbox: $(bwrap --version)"
    exit 0
fi
bash "$(dirname "$0")/apt_install.sh" "the sandbox" bubblewrap util-linux
echo "sandbox: $(bwrap --version)"
