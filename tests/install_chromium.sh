#!/bin/sh
# Install headless Chromium (Debian's `chromium` package) for the report's browser test.
# Does nothing when a chromium binary is already on PATH. Needs root (or sudo) and apt.
set -eu
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
sh "$(dirname "$0")/apt_install.sh" chromium
command -v chromium
