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
bash "$(dirname "$0")/apt_install.sh" "Chromium (or set CHROMIUM=/path/to/chromium)" chromium fonts-dejavu-core fonts-liberation
echo "chromium: $("$CHROMIUM" --version)"
