#!/usr/bin/env bash
# Install axe-core, the accessibility checker tests/test_accessibility.py runs in headless
# Chromium on the class report and a feedback page, unless the pinned version is there.
# It goes into artifacts/axe/ (not committed: artifacts/ is in .gitignore), from the npm registry
# (Node.js and npm from Debian when missing). Run it again and it changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

AXE_VERSION=${AXE_VERSION:-4.14.1}
AXE_PREFIX=${AXE_PREFIX:-artifacts/axe}
installed="$AXE_PREFIX/node_modules/axe-core/package.json"

if [ -f "$installed" ] && grep -q "\"version\": \"$AXE_VERSION\"" "$installed"; then
    echo "axe-core: $AXE_VERSION in $AXE_PREFIX"
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    bash "$(dirname "$0")/apt_install.sh" "Node.js for axe-core" nodejs npm
fi
mkdir -p "$AXE_PREFIX"
echo "installing axe-core $AXE_VERSION from npm into $AXE_PREFIX ..."
npm install --no-fund --no-audit --no-save --loglevel=error --prefix "$AXE_PREFIX" \
    "axe-core@$AXE_VERSION" >/dev/null
echo "axe-core: $AXE_VERSION in $AXE_PREFIX"
