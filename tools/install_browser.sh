#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (tests/test_browser.py), unless it is there.
# The tests drive it with Playwright (a Python package installed with the test dependencies);
# Playwright's own browser downloads are not used. Needs root (or sudo) on Debian/Ubuntu.
set -euo pipefail

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
    echo "chromium: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_browser.sh: no apt-get here; install Chromium yourself and set CHROMIUM=/path/to/chromium" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
echo "installing chromium with apt-get ..."
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core fonts-liberation >/dev/null
echo "chromium: $("$CHROMIUM" --version)"
