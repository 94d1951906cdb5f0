#!/bin/sh
# Install everything that building, testing, fuzzing, benchmarking and the demo
# need, from Debian bookworm's own repositories. Idempotent; run as root.
set -eu

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: run as root (apt-get needs it)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive

packages="
    build-essential cmake pkg-config git ca-certificates
    clang libclang-rt-14-dev
    libpq-dev libck-dev libcriterion-dev libinih-dev
    postgresql-15 postgresql-15-wal2json postgresql-client-15
    libjansson-dev libjson-c-dev pgcopydb
    valgrind procps util-linux passwd time jq
    libmicrohttpd-dev curl prometheus docker-compose
    openssl pgbouncer
"

apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $packages

# Debian's postgresql-common creates and starts a default cluster on port 5432;
# the project never uses it (tests and the demo start their own on free ports).
# The same goes for the pgbouncer package's own service on port 6432: the tests
# start their PgBouncers with tests/harness/pgb. openssl makes the test
# clusters' throwaway certificates (pgh start --ssl).
echo "install-deps: done ($(/usr/lib/postgresql/15/bin/postgres --version))"
