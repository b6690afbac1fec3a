#!/usr/bin/env bash
# What the JupyterHub test (tests/test_hub.py) needs on the machine besides Python packages,
# installed unless already there (run it again and it changes nothing):
# - configurable-http-proxy, JupyterHub's proxy, from the npm registry into
#   /opt/configurable-http-proxy, linked as /usr/local/bin/configurable-http-proxy
#   (Node.js and npm from Debian when missing);
# - one system user per hub user of the test class (an instructor and four students), each with a
#   home folder of mode 700: JupyterHub's LocalProcessSpawner runs each single-user server as its
#   user, so the exchange's file permissions are really put to the test (the test empties
#   these homes: HUB_USERS= names other accounts to create for a real hub);
# - nbgrader's exchange folder /srv/nbgrader/exchange, mode 777 as nbgrader's documentation says
#   (every user may create a course's folders in it; nbgrader sets the course folders' modes);
# - for those users, the right to pass through (not to list) the folders above this course and
#   above the Python that ./run makes .venv/ with (e.g. /root for pyenv's Pythons), with an ACL
#   (Debian's acl package), so that their servers and commands run the course's .venv/.
# Needs root (or sudo) on Debian/Ubuntu. Meant for a test machine or the course's hub server.
set -euo pipefail
cd "$(dirname "$0")/.."

CHP_VERSION=${CHP_VERSION:-4.6.3}
CHP_PREFIX=${CHP_PREFIX:-/opt/configurable-http-proxy}
EXCHANGE=${NBGRADER_EXCHANGE:-/srv/nbgrader/exchange}
# the hub users of tests/test_hub.py (tests/hub.py: INSTRUCTOR and STUDENTS)
HUB_USERS=${HUB_USERS:-"bn-instructor bn-perfect bn-partly bn-twice bn-late"}

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi

# --- the proxy
if ! command -v npm >/dev/null 2>&1; then
    bash "$(dirname "$0")/apt_install.sh" "Node.js for the proxy" nodejs npm
fi
if [ ! -x "$CHP_PREFIX/bin/configurable-http-proxy" ] \
        || [ "$("$CHP_PREFIX/bin/configurable-http-proxy" --version 2>/dev/null)" != "$CHP_VERSION" ]; then
    echo "installing configurable-http-proxy $CHP_VERSION from npm into $CHP_PREFIX ..."
    $sudo npm install --global --no-fund --no-audit --loglevel=error --prefix "$CHP_PREFIX" \
        "configurable-http-proxy@$CHP_VERSION" >/dev/null
fi
$sudo ln -sf "$CHP_PREFIX/bin/configurable-http-proxy" /usr/local/bin/configurable-http-proxy
echo "configurable-http-proxy: $(configurable-http-proxy --version)"

# --- the users
for user in $HUB_USERS; do
    if ! id -u "$user" >/dev/null 2>&1; then
        $sudo useradd --create-home --shell /bin/bash "$user"
    fi
    $sudo chmod 700 "$(getent passwd "$user" | cut -d: -f6)"
done
echo "hub users: $HUB_USERS"

# --- the way to the course and its Python
if ! command -v setfacl >/dev/null 2>&1; then
    echo "installing acl with apt-get ..."
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends acl >/dev/null
fi
python=$(./run which-python)
base=$("$python" -c 'import os, sys; print(os.path.realpath(sys.base_prefix))')
for target in "$(pwd -P)" "$base"; do
    dir=$target
    while [ "$dir" != / ]; do
        if [ "$(( 0$(stat -c %a "$dir") & 1 ))" -eq 0 ]; then   # others may not pass through
            for user in $HUB_USERS; do
                $sudo setfacl -m "u:$user:x" "$dir"
            done
            echo "pass-through for the hub users: $dir"
        fi
        dir=$(dirname "$dir")
    done
done

# --- the exchange
$sudo mkdir -p "$EXCHANGE"
$sudo chmod 777 "$EXCHANGE"
echo "nbgrader exchange: $EXCHANGE ($(stat -c %A "$EXCHANGE"))"
