#!/usr/bin/env bash
# A consistent, point-in-time copy of the Redis data (users and sessions) as an RDB file:
#   scripts/backup-redis.sh [FILE]      (default: backups/redis-<UTC time>.rdb, mode 0600)
# Redis forks and streams a snapshot (`redis-cli --rdb`, the replication path), so the copy is
# consistent while the stack keeps serving. The file is checked with redis-check-rdb.
# Mode: STACK=docker|native; otherwise docker when the compose project runs, else native
# (redis on 127.0.0.1:REDIS_PORT, default 6379, password REDIS_PASSWORD from ENV_FILE).
# Restore: stop the stack, put the file as dump.rdb into an empty data directory (volume
# authstack_redis-data), remove appendonlydir/, start Redis with appendonly off, then
# `CONFIG SET appendonly yes` before starting the service.
set -euo pipefail

if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
env_file=${ENV_FILE:-"$root/.env"}
out=${1:-"$root/backups/redis-$(date -u +%Y%m%dT%H%M%SZ).rdb"}
mkdir -p "$(dirname "$out")"
umask 077

mode=${STACK:-}
if [[ -z "$mode" ]]; then
  mode=native
  if DOCKER_HOST=$("$root/scripts/start-docker-engine.sh" --find 2>/dev/null) \
     && [[ -n "$(DOCKER_HOST=$DOCKER_HOST docker ps -q --filter label=com.docker.compose.project=authstack \
                 --filter label=com.docker.compose.service=redis)" ]]; then
    mode=docker
  fi
fi

tmp="$out.partial"
trap 'rm -f "$tmp"' EXIT

case "$mode" in
  docker)
    DOCKER_HOST=$("$root/scripts/start-docker-engine.sh" --find)
    export DOCKER_HOST
    id=$(docker ps -q --filter label=com.docker.compose.project=authstack \
           --filter label=com.docker.compose.service=redis | head -n 1)
    [[ -n "$id" ]] || { echo "error: the redis container is not running (make up)" >&2; exit 1; }
    # redis-cli writes a file (with `--rdb -` Redis 7.0 leaves the 40-byte EOF mark of a
    # diskless transfer at the end), so the snapshot goes to the data volume first, is
    # checked there, streamed out, and removed.
    name=".backup-$$.rdb"
    # shellcheck disable=SC2016  # expanded inside the container
    docker exec -u redis "$id" sh -c '
      set -e
      REDISCLI_AUTH=$(cat /run/secrets/redis_password) redis-cli --no-auth-warning --rdb "/data/$1" >&2
      redis-check-rdb "/data/$1" >/dev/null || { redis-check-rdb "/data/$1" >&2; exit 1; }' sh "$name"
    # As redis: /data is private to it, and root in this container has no CAP_DAC_OVERRIDE.
    docker exec -u redis "$id" cat "/data/$name" >"$tmp" || { docker exec -u redis "$id" rm -f "/data/$name"; exit 1; }
    docker exec -u redis "$id" rm -f "/data/$name"
    ;;
  native)
    "$root/scripts/ensure-tools.sh" redis-cli
    password=$(sed -n 's/^REDIS_PASSWORD=//p' "$env_file" | tail -n 1)
    REDISCLI_AUTH=$password redis-cli --no-auth-warning -h 127.0.0.1 -p "${REDIS_PORT:-6379}" --rdb "$tmp" >&2
    if command -v redis-check-rdb >/dev/null 2>&1; then
      redis-check-rdb "$tmp" >/dev/null || { redis-check-rdb "$tmp" >&2; exit 1; }
    fi
    ;;
  *) echo "error: STACK must be docker or native" >&2; exit 2 ;;
esac

# Every RDB file starts with the magic "REDIS" and a 4-digit version.
[[ "$(head -c 5 "$tmp")" == REDIS ]] || { echo "error: $tmp is not an RDB file" >&2; exit 1; }
mv -f "$tmp" "$out"
trap - EXIT
echo "backup written: $out ($(wc -c <"$out") bytes)"
