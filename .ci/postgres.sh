# shellcheck shell=bash
# Start a throwaway PostgreSQL for the multi-host outbox tests, bound to 127.0.0.1 only.
#
#   source .ci/postgres.sh      # exports CREDITGUARD_TEST_PG_DSN
#
# Installs the server with apt-get when it is missing, initialises a cluster in
# $CREDITGUARD_PG_DIR (default /tmp/creditguard-pg) and starts it on port
# $CREDITGUARD_PG_PORT (default 54329), trust auth on loopback. Idempotent: a
# server already answering on that port is reused. Meant to be sourced, so it
# never calls `set -e` or `exit` in the caller's shell; a failure leaves the
# variable unset, and the postgres-marked tests then fail when CI=true (.ci/run sets
# it) and skip, saying why, on a developer's machine (tests/conftest.py).

_cg_pg_start() {
    local port="${CREDITGUARD_PG_PORT:-54329}"
    local dir="${CREDITGUARD_PG_DIR:-/tmp/creditguard-pg}"
    local bin
    bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    if [ -z "$bin" ]; then
        echo "postgres.sh: installing PostgreSQL with apt-get" >&2
        (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq postgresql >/dev/null) || return 1
        bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
        [ -n "$bin" ] || return 1
    fi
    # initdb and postgres refuse to run as root: run them as the postgres user.
    local as=()
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres || return 1
        as=(runuser -u postgres --)
    fi
    if ! "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
        if [ ! -s "$dir/PG_VERSION" ]; then
            rm -rf "$dir" && mkdir -p "$dir" || return 1
            [ "$(id -u)" = 0 ] && chown postgres "$dir"
            chmod 700 "$dir"
            "${as[@]}" "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C >"$dir.initdb.log" 2>&1 || {
                cat "$dir.initdb.log" >&2; return 1; }
        fi
        "${as[@]}" "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c fsync=on" start >/dev/null || {
            tail -n 20 "$dir/server.log" >&2; return 1; }
    fi
    "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'creditguard_test'" | grep -q 1 \
        || "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres creditguard_test || return 1
    CREDITGUARD_TEST_PG_DSN="postgresql://postgres@127.0.0.1:$port/creditguard_test"
    export CREDITGUARD_TEST_PG_DSN
    echo "postgres.sh: CREDITGUARD_TEST_PG_DSN=$CREDITGUARD_TEST_PG_DSN" >&2
}

_cg_pg_start || { echo "postgres.sh: could not start PostgreSQL; postgres tests will fail under CI=true (skip otherwise)" >&2; unset CREDITGUARD_TEST_PG_DSN; }
unset -f _cg_pg_start
