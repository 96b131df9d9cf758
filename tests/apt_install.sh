#!/bin/sh
# Install Debian packages non-interactively, as root or through sudo: the one install step of
# tests/install_chromium.sh and tests/install_postgresql.sh. Usage: apt_install.sh PACKAGE...
set -eu
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
else
    SUDO=""
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
