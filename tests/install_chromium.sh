#!/bin/sh
# Install headless Chromium (Debian's `chromium` package) for the report's browser test.
# Does nothing when a chromium binary is already on PATH. Needs root (or sudo) and apt.
set -eu
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
else
    SUDO=""
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium
