#!/usr/bin/env bash
# Print the path of a working interpreter of Python VERSION (e.g. 3.12), or fail.
#   tools/find_python.sh 3.12
# Looks at python3.12 on PATH, then at pyenv's versions (~/.pyenv/versions/3.12.*; a pyenv shim
# on PATH does not run a version that is not enabled), then at /usr/local/bin and /usr/bin.
set -euo pipefail
version=${1:?usage: tools/find_python.sh VERSION}

runs() {  # runs PATH: it is an interpreter of $version
    [ -x "$1" ] && "$1" -c "import sys; sys.exit(f'{sys.version_info[0]}.{sys.version_info[1]}' != '$version')" \
        >/dev/null 2>&1
}

candidates=()
if found=$(command -v "python$version" 2>/dev/null); then candidates+=("$found"); fi
pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
# newest patch release first
while IFS= read -r dir; do
    candidates+=("$dir/bin/python$version")
done < <(ls -d "$pyenv_root/versions/$version".* 2>/dev/null | sort -t. -k3,3nr)
candidates+=("/usr/local/bin/python$version" "/usr/bin/python$version")

for candidate in "${candidates[@]}"; do
    if runs "$candidate"; then
        echo "$candidate"
        exit 0
    fi
done
echo "find_python.sh: no working Python $version (looked at: ${candidates[*]})" >&2
exit 1
