#!/bin/sh
# Install PostgreSQL (Debian's `postgresql` package) for the tests that start a throwaway
# cluster with initdb + pg_ctl (tests/pg_cluster.py). Does nothing when the binaries are
# already there. Needs root (or sudo) and apt.
set -eu
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    exit 0
fi
sh "$(dirname "$0")/apt_install.sh" postgresql
ls /usr/lib/postgresql/*/bin/initdb
