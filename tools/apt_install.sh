#!/usr/bin/env bash
# apt_install.sh WHAT PACKAGE...: install Debian/Ubuntu packages with apt-get (as root, or with
# sudo), for the install_*.sh scripts; WHAT names what they are for in the messages. Fails,
# saying so, where there is no apt-get.
set -euo pipefail

what=$1; shift
if ! command -v apt-get >/dev/null 2>&1; then
    echo "no apt-get here; install $what ($*) yourself" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
echo "installing $what ($*) with apt-get ..."
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
