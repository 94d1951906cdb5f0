# lib.sh - what the memori-db ops scripts (start, stop, status, backup,
# restore) share. Sourced, not run.
#
# Settings: compose/.env (see compose/.env.example), then the environment.
#
# Where the PostgreSQL client tools run: inside the container by default
# (docker compose exec), because pg_dump must be at least the server's major
# version and the container's is always the server's own. With
# MEMORI_LOCAL_BINDIR set (say /usr/lib/postgresql/17/bin) the local tools run
# instead, against the server the libpq environment names (PGHOST, PGPORT,
# PGUSER, PGPASSWORD, PGDATABASE): for a server that is not this container,
# and for the tests, which point these scripts at a throwaway cluster.
set -euo pipefail

MEMORI_COMPOSE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -f "$MEMORI_COMPOSE_DIR/.env" ]; then
    set -a
    # shellcheck disable=SC1091
    . "$MEMORI_COMPOSE_DIR/.env"
    set +a
fi
MEMORI_DB_USER=${MEMORI_DB_USER:-memori}
MEMORI_DB_NAME=${MEMORI_DB_NAME:-memori}
MEMORI_DB_PORT=${MEMORI_DB_PORT:-5433}
MEMORI_CONTAINER=memori-db
MEMORI_BACKUP_DIR=${MEMORI_BACKUP_DIR:-$MEMORI_COMPOSE_DIR/backups}
SCRIPT=$(basename "$0" .sh)

die()
{
    echo "memori-db $SCRIPT: $*" >&2
    exit 1
}
say() { echo "memori-db $SCRIPT: $*"; }

local_tools() { [ -n "${MEMORI_LOCAL_BINDIR:-}" ]; }

# compose ARGS: docker compose (v2) or docker-compose (v1), on this project.
compose()
{
    if docker compose version >/dev/null 2>&1; then
        docker compose -p memori -f "$MEMORI_COMPOSE_DIR/docker-compose.yml" "$@"
    elif command -v docker-compose >/dev/null 2>&1; then
        docker-compose -p memori -f "$MEMORI_COMPOSE_DIR/docker-compose.yml" "$@"
    else
        die "neither \"docker compose\" nor docker-compose is installed; install Docker with its compose plugin"
    fi
}

need_engine()
{
    command -v docker >/dev/null 2>&1 || die "docker is not installed; install Docker, or set MEMORI_LOCAL_BINDIR to use local client tools"
    docker info >/dev/null 2>&1 || die "the Docker engine is not running (docker info failed); start it, then run this again"
}

need_password()
{
    [ -n "${MEMORI_DB_PASSWORD:-}" ] ||
        die "MEMORI_DB_PASSWORD is not set; copy compose/.env.example to compose/.env and set it there"
}

# pg_tool NAME ARGS...: a PostgreSQL client tool, where it matches the server
# (stdin and stdout pass through). The database is the memori one.
pg_tool()
{
    local tool=$1
    shift
    if local_tools; then
        [ -x "$MEMORI_LOCAL_BINDIR/$tool" ] || die "$MEMORI_LOCAL_BINDIR/$tool does not exist; set MEMORI_LOCAL_BINDIR to the bin directory of the server's major version"
        PGDATABASE=${PGDATABASE:-$MEMORI_DB_NAME} "$MEMORI_LOCAL_BINDIR/$tool" "$@"
    else
        need_engine
        compose exec -T -e PGUSER="$MEMORI_DB_USER" -e PGDATABASE="$MEMORI_DB_NAME" memori-db "$tool" "$@"
    fi
}

# db_name: the database the tools work on.
db_name()
{
    if local_tools; then echo "${PGDATABASE:-$MEMORI_DB_NAME}"; else echo "$MEMORI_DB_NAME"; fi
}
