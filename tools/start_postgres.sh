#!/usr/bin/env bash
# Start (once) a PostgreSQL server for the course's gradebook and print its URL.
#
#   url=$(tools/start_postgres.sh)          # e.g. postgresql+psycopg://course@127.0.0.1:54321/gradebook
#   COURSE_DB_URL=$url ./run course grade --jobs 4
#
# Idempotent: a second call finds the running server and prints the same URL. Installs Debian's
# postgresql with apt-get when no server binaries are found (needs root). The server runs as a
# non-root user, listens on 127.0.0.1 only, on a free port, with its data under
# ${COURSE_PG_DIR:-/tmp/course-postgres}; `tools/start_postgres.sh stop` stops it.
set -euo pipefail

DIR=${COURSE_PG_DIR:-/tmp/course-postgres}
DB=gradebook
ROLE=course

find_bin() {
    local name=$1 candidate
    for candidate in "$(command -v "$name" 2>/dev/null || true)" /usr/lib/postgresql/*/bin/"$name"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
    done
    return 1
}

if ! find_bin pg_ctl >/dev/null || ! find_bin initdb >/dev/null; then
    echo "installing PostgreSQL (Debian package postgresql) ..." >&2
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >&2
fi
PG_CTL=$(find_bin pg_ctl)
INITDB=$(find_bin initdb)
PSQL=$(find_bin psql)

# PostgreSQL refuses to run as root: use the postgres user when there is one, else a system user.
as_owner() { "$@"; }
if [ "$(id -u)" -eq 0 ]; then
    OWNER=postgres
    if ! id "$OWNER" >/dev/null 2>&1; then
        OWNER=coursepg
        id "$OWNER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$OWNER"
    fi
    as_owner() { runuser -u "$OWNER" -- "$@"; }
fi

url() { echo "postgresql+psycopg://$ROLE@127.0.0.1:$(cat "$DIR/port")/$DB"; }

if [ "${1:-}" = "stop" ]; then
    [ -f "$DIR/data/PG_VERSION" ] && as_owner "$PG_CTL" -D "$DIR/data" -m fast stop >&2 || true
    exit 0
fi

if [ -f "$DIR/port" ] && as_owner "$PG_CTL" -D "$DIR/data" status >/dev/null 2>&1; then
    url
    exit 0
fi

mkdir -p "$DIR"
if [ "$(id -u)" -eq 0 ]; then chown "$OWNER" "$DIR"; fi
if [ ! -f "$DIR/data/PG_VERSION" ]; then
    as_owner "$INITDB" -D "$DIR/data" -U "$ROLE" --auth=trust --encoding=UTF8 >"$DIR/initdb.log" 2>&1 ||
        { cat "$DIR/initdb.log" >&2; exit 1; }
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "$port" >"$DIR/port"
as_owner "$PG_CTL" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
    -o "-p $port -k $DIR -c listen_addresses=127.0.0.1" start >&2 ||
    { cat "$DIR/server.log" >&2; exit 1; }
if ! "$PSQL" -h 127.0.0.1 -p "$port" -U "$ROLE" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" |
        grep -q 1; then
    "$PSQL" -h 127.0.0.1 -p "$port" -U "$ROLE" -d postgres -qc "CREATE DATABASE $DB" >&2
fi
url
