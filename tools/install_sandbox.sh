#!/usr/bin/env bash
# Install bubblewrap, the sandbox `course grade` and `course check` run students' kernels in
# (course/sandbox.py), unless it is there; setpriv and prlimit come with util-linux. Needs root
# (or sudo) on Debian/Ubuntu; elsewhere, install bubblewrap with the system's package manager.
set -euo pipefail

if command -v bwrap >/dev/null 2>&1 && command -v setpriv >/dev/null 2>&1 && command -v prlimit >/dev/null 2>&1; then
    echo "sandbox: $(bwrap --version)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_sandbox.sh: no apt-get here; install bubblewrap (and util-linux) yourself" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
echo "installing bubblewrap with apt-get ..."
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends bubblewrap util-linux >/dev/null
echo "sandbox: $(bwrap --version)"
