#!/bin/sh
# Install Java 17 (Debian's `openjdk-17-jre-headless`) for the Spark engine's tests. Does
# nothing when `java` is already on the PATH. Needs root (or sudo) and apt.
set -eu
if command -v java >/dev/null 2>&1; then
    exit 0
fi
sh "$(dirname "$0")/apt_install.sh" openjdk-17-jre-headless
java -version
