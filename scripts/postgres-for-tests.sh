#!/usr/bin/env bash
# A throwaway PostgreSQL server for archsearch's tests, listening on 127.0.0.1 only.
#
# Usage:
#   export ARCHSEARCH_TEST_POSTGRESQL="$(scripts/postgres-for-tests.sh start)"
#   .venv/bin/python -m pytest
#   scripts/postgres-for-tests.sh stop
#
#   start  initdb a fresh cluster in a temporary folder, start it on a free port, create
#          a role with a random password and a database; print its SQLAlchemy URL
#          (postgresql+psycopg://...). Already running for this checkout: print the URL.
#   url    print the URL of the running server.
#   stop   stop the server and delete its folder (nothing running: nothing to do).
#
# Binaries come from /usr/lib/postgresql/*/bin (Debian's `postgresql` package; as root
# it is installed with apt-get when missing) or from $PG_BIN. Run as root, the server
# runs as the `postgres` user. The folder is $ARCHSEARCH_PG_DIR, by default one per user
# and checkout under /tmp. Durability is off (fsync, full_page_writes): the data is
# thrown away anyway. Messages go to stderr; stdout carries only the URL.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
key="$(printf %s "$repo" | cksum | cut -d' ' -f1)"
dir="${ARCHSEARCH_PG_DIR:-/tmp/archsearch-postgres-$(id -u)-$key}"
user=archsearch
database=archsearch

say() { echo "postgres-for-tests: $*" >&2; }
die() { say "$*"; exit 1; }

find_bin() {
    if [[ -n "${PG_BIN:-}" ]]; then
        echo "$PG_BIN"
        return
    fi
    local found
    found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -z "$found" && -x "$(command -v initdb || true)" ]]; then
        found="$(dirname "$(command -v initdb)")"
    fi
    echo "$found"
}

install_postgres() {
    [[ "$(id -u)" == 0 ]] || die "no PostgreSQL found; install Debian's postgresql \
package (sudo apt-get install postgresql) or set PG_BIN to its bin folder"
    command -v apt-get >/dev/null || die "no PostgreSQL found and no apt-get to install it"
    say "installing Debian's postgresql package"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
}

# the server refuses to run as root: as root, every server command runs as `postgres`
as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

is_running() {
    [[ -f "$dir/data/PG_VERSION" ]] && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); \
print(s.getsockname()[1])'
}

start() {
    bin="$(find_bin)"
    if [[ -z "$bin" ]]; then
        install_postgres
        bin="$(find_bin)"
        [[ -n "$bin" ]] || die "postgresql installed, yet no /usr/lib/postgresql/*/bin"
    fi
    if is_running; then
        if [[ -f "$dir/url" ]]; then
            say "already running in $dir"
            cat "$dir/url"
            return
        fi
        as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null  # half made
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    chmod 700 "$dir"
    if [[ "$(id -u)" == 0 ]]; then
        id postgres >/dev/null 2>&1 || die "no 'postgres' user to run the server as"
        chown postgres: "$dir"
    fi
    local port password
    port="$(free_port)"
    password="$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust \
        --auth-host=scram-sha-256 -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 \
        || die "initdb failed: $(tail -n 5 "$dir/initdb.log")"
    as_owner tee -a "$dir/data/postgresql.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
        || die "the server did not start: $(tail -n 5 "$dir/server.log")"
    as_owner "$bin/psql" -q -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
        -c "CREATE ROLE $user LOGIN PASSWORD '$password'" \
        -c "CREATE DATABASE $database OWNER $user" >&2
    local url="postgresql+psycopg://$user:$password@127.0.0.1:$port/$database"
    (umask 077 && echo "$url" >"$dir/url")
    say "running in $dir on 127.0.0.1:$port"
    echo "$url"
}

stop() {
    bin="$(find_bin)"
    if [[ -n "$bin" ]] && is_running; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
        say "stopped the server in $dir"
    fi
    rm -rf "$dir"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    url)
        [[ -f "$dir/url" ]] || die "not running (no $dir/url); use: $0 start"
        cat "$dir/url"
        ;;
    *) die "usage: $0 start|url|stop" ;;
esac
