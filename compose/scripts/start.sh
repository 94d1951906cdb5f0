#!/bin/bash
# start.sh - start the memori database container and wait until it is healthy
# (the first start builds the image and applies the memori schema).
. "$(dirname "$0")/lib.sh"

need_password
need_engine
mkdir -p "$MEMORI_BACKUP_DIR"
compose up -d
say "waiting for $MEMORI_CONTAINER to be healthy (the first start builds the image and applies the schema)"
for _ in $(seq 1 120); do
    health=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$MEMORI_CONTAINER" 2>/dev/null || true)
    case "$health" in
        healthy)
            say "up on 127.0.0.1:$MEMORI_DB_PORT (healthy)"
            say "MEMORI_DATABASE_URL=postgresql://$MEMORI_DB_USER:(password in compose/.env)@127.0.0.1:$MEMORI_DB_PORT/$MEMORI_DB_NAME"
            exit 0
            ;;
        unhealthy | exited | dead)
            compose logs --tail 20 memori-db >&2 || true
            die "$MEMORI_CONTAINER is $health; its last log lines are above"
            ;;
    esac
    sleep 1
done
die "$MEMORI_CONTAINER is not healthy after 120 s (now: ${health:-unknown}); see: docker logs $MEMORI_CONTAINER"
