#!/usr/bin/env bash
# The Docker Compose stack (docker-compose.yml, project name "authstack"):
#   scripts/docker-stack.sh up               .env + certs if missing, build, start, wait healthy, print URL
#   scripts/docker-stack.sh down [args]      stop and remove the containers (volumes are kept)
#   scripts/docker-stack.sh logs [--no-follow] [service...]
#   scripts/docker-stack.sh ps | config      list the services | print the resolved compose file
#   scripts/docker-stack.sh restart [service...]   restart containers in place, wait healthy
#   scripts/docker-stack.sh recreate service...    new containers (re-reads .secrets/), wait healthy
#   scripts/docker-stack.sh rotate-secret    scripts/rotate-secret.sh on this stack
#   scripts/docker-stack.sh backup [FILE]    scripts/backup-redis.sh on this stack
#   scripts/docker-stack.sh users ARGS...    the user CLI in the service container (password on stdin)
#   scripts/docker-stack.sh smoke            npm run smoke against this stack
#   scripts/docker-stack.sh secrets          (re)write .secrets/ from .env
#   scripts/docker-stack.sh service-logs     the service's raw log (for SMOKE_SERVICE_LOG_CMD)
#   scripts/docker-stack.sh compose ARGS...  any compose command, with this project's options
# Uses `docker compose` (v2) when present, else `docker-compose` (v1.29). Finds the engine on
# DOCKER_HOST, /var/run/docker.sock or the socket of scripts/start-docker-engine.sh.
# Env: ENV_FILE (.env), HTTP_PORT (80), HTTPS_PORT (443), PUBLISH_ADDRESS (0.0.0.0),
#      COMPOSE_PROFILES (e.g. monitoring), WAIT_TIMEOUT (180 s).
set -euo pipefail

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
env_file=${ENV_FILE:-"$root/.env"}
[[ "$env_file" == /* ]] || env_file="$PWD/$env_file"
compose_file="$root/docker-compose.yml"
secrets_dir="$root/.secrets"
smoke_env="$root/.run/smoke.env"
project=authstack
wait_timeout=${WAIT_TIMEOUT:-180}

die() { echo "error: $*" >&2; exit 1; }
note() { echo "docker-stack: $*" >&2; }

# --- settings ------------------------------------------------------------------------------------
# A key from the env file (last assignment wins, surrounding quotes removed), or empty.
env_get() {
  [[ -f "$env_file" ]] || return 0
  sed -n "s/^[[:space:]]*$1=//p" "$env_file" | tail -n 1 | sed -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'\$/\1/"
}
# A compose variable as compose resolves it: the shell environment wins over the env file.
setting() {
  local name=$1 default=$2 value
  value=${!name:-}
  [[ -n "$value" ]] || value=$(env_get "$name")
  echo "${value:-$default}"
}

# --- engine and compose ----------------------------------------------------------------------------
engine() {
  local start_flag=--find
  [[ "${1:-}" == start ]] && start_flag=
  DOCKER_HOST=$("$root/scripts/start-docker-engine.sh" ${start_flag:+"$start_flag"})
  export DOCKER_HOST
}

compose_cmd=()
pick_compose() {
  if docker compose version >/dev/null 2>&1; then
    compose_cmd=(docker compose)
  else
    "$root/scripts/ensure-tools.sh" docker-compose
    compose_cmd=(docker-compose)
  fi
}
compose() {
  [[ ${#compose_cmd[@]} -gt 0 ]] || pick_compose
  "${compose_cmd[@]}" -p "$project" -f "$compose_file" --env-file "$env_file" "$@"
}

container_of() { compose ps -q "$1" 2>/dev/null | head -n 1; }

# Waits until every running container of the project is healthy (or running, when it has no
# healthcheck); fails with the unhealthy ones' last health output.
wait_healthy() {
  local deadline=$((SECONDS + wait_timeout)) ids id state pending
  while :; do
    mapfile -t ids < <(compose ps -q)
    [[ ${#ids[@]} -gt 0 ]] || die "no containers in project $project"
    pending=()
    for id in "${ids[@]}"; do
      state=$(docker inspect -f '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id")
      case "$state" in
        *" running healthy"|*" running none") ;;
        *" exited "*|*" dead "*|*" running unhealthy") die "container ${state%% *} is ${state#* }" ;;
        *) pending+=("$state") ;;
      esac
    done
    [[ ${#pending[@]} -eq 0 ]] && return 0
    if [[ $SECONDS -ge $deadline ]]; then
      for id in "${ids[@]}"; do
        docker inspect -f '{{.Name}}: {{if .State.Health}}{{range .State.Health.Log}}{{.Output}}{{end}}{{end}}' "$id" >&2 || true
      done
      die "not healthy after ${wait_timeout}s: ${pending[*]}"
    fi
    sleep 2
  done
}

# nginx resolves the service's name once, at start; a recreated service container may get a
# new address. A reload makes new workers resolve it again (old ones finish their requests).
reload_nginx() {
  local id
  id=$(container_of nginx)
  [[ -n "$id" ]] || return 0
  docker exec "$id" nginx -s reload >/dev/null
  note "nginx reloaded (re-resolves the service's address)"
}

# --- inputs: .env, secrets, certificates -------------------------------------------------------------
# Compose file secrets are plain bind mounts of these files (no uid/mode support in compose v1
# and for file secrets in v2), so each file is world-readable inside a 0700 directory: only the
# owner can reach them on the host, and each container sees only the secrets it lists.
# A new inode per write: running containers keep the value they started with until recreated.
write_secret() {
  local name=$1 value=$2 tmp
  [[ -n "$value" ]] || die "$name is empty: set it in $env_file"
  tmp=$(mktemp "$secrets_dir/.$name.XXXXXX")
  printf '%s' "$value" >"$tmp"
  chmod 0444 "$tmp"
  mv -f "$tmp" "$secrets_dir/$name"
}

write_secrets() {
  [[ -f "$env_file" ]] || die "$env_file is missing (scripts/gen-env.sh creates it)"
  local redis_password escaped
  mkdir -p "$secrets_dir"
  chmod 0700 "$secrets_dir"
  redis_password=$(env_get REDIS_PASSWORD)
  write_secret redis_password "$redis_password"
  # redis.conf syntax: a double-quoted string with \ and " escaped.
  escaped=${redis_password//\\/\\\\}
  escaped=${escaped//\"/\\\"}
  write_secret redis_requirepass.conf "requirepass \"$escaped\""
  write_secret session_secrets "$(env_get SESSION_SECRETS)"
  write_secret metrics_token "$(env_get METRICS_TOKEN)"
  write_secret admin_password "$(env_get ADMIN_PASSWORD)"
}

# PUBLIC_ORIGIN is what the browser's Origin header says; the service rejects POSTs from any
# other origin, so its port must be the published HTTPS port.
check_origin() {
  local origin port origin_port hostport
  origin=$(setting PUBLIC_ORIGIN https://localhost)
  port=$(setting HTTPS_PORT 443)
  [[ "$origin" =~ ^https://([^/]+)/?$ ]] || die "PUBLIC_ORIGIN must look like https://host[:port], got '$origin'"
  hostport=${BASH_REMATCH[1]}
  origin_port=443
  [[ "$hostport" =~ :([0-9]+)$ ]] && origin_port=${BASH_REMATCH[1]}
  if [[ "$origin_port" != "$port" ]]; then
    die "PUBLIC_ORIGIN=$origin but HTTPS_PORT=$port: browsers would send Origin https://${hostport%:*}$([[ $port == 443 ]] || echo ":$port").
       Set PUBLIC_ORIGIN to that in $env_file (or use HTTPS_PORT=$origin_port)."
  fi
}

# Fail early and clearly when another process (e.g. the native stack) holds a port we publish.
check_ports() {
  local p
  [[ -z "$(container_of nginx)" ]] || return 0
  for p in "$(setting HTTP_PORT 80)" "$(setting HTTPS_PORT 443)"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      die "port $p is already in use on this machine (a native stack? 'make down STACK=native').
       Free it, or publish elsewhere: HTTP_PORT=8080 HTTPS_PORT=8443 with PUBLIC_ORIGIN=https://localhost:8443 in .env."
    fi
  done
}

# Every base image must be present before compose runs: a missing one makes compose pull, which
# fails without a registry. Pull what is missing; when that fails, build the local stand-ins.
ensure_base_images() {
  local img missing=()
  while read -r img; do
    docker image inspect "$img" >/dev/null 2>&1 || missing+=("$img")
  done < <("$root/scripts/build-standin-images.sh" --list)
  [[ ${#missing[@]} -eq 0 ]] && return 0
  for img in "${missing[@]}"; do
    note "pulling $img"
    if ! timeout 120 docker pull -q "$img" >/dev/null 2>&1; then
      note "cannot pull $img (no registry?): building local stand-ins (scripts/build-standin-images.sh)"
      "$root/scripts/build-standin-images.sh"
      return 0
    fi
  done
}

write_smoke_env() {
  local origin http_port host gateway
  origin=$(setting PUBLIC_ORIGIN https://localhost)
  http_port=$(setting HTTP_PORT 80)
  host=${origin#https://}; host=${host%%/*}; host=${host%:*}
  # Docker's userland proxy forwards published ports from the edge network's gateway address:
  # that is the client IP nginx (and so the service) sees for requests from this machine.
  gateway=$(docker network inspect -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' "${project}_edge" 2>/dev/null || true)
  mkdir -p "$(dirname "$smoke_env")"
  {
    echo "# Written by scripts/docker-stack.sh up; removed by down."
    echo "BASE_URL=$origin"
    echo "SMOKE_HTTP_URL=http://$host$([[ $http_port == 80 ]] || echo ":$http_port")"
    echo "SMOKE_SERVICE_LOG_CMD=$root/scripts/docker-stack.sh service-logs"
    [[ -z "$gateway" ]] || echo "SMOKE_EXPECTED_CLIENT_IP=$gateway"
  } >"$smoke_env"
}

# GET /healthz through nginx, as a browser would reach it (HTTPS, our CA).
probe_edge() {
  local origin port host ca="$root/certs/ca.crt"
  command -v curl >/dev/null 2>&1 || { note "curl not installed: skipping the HTTPS probe"; return 0; }
  origin=$(setting PUBLIC_ORIGIN https://localhost)
  port=$(setting HTTPS_PORT 443)
  host=${origin#https://}; host=${host%%/*}; host=${host%:*}
  local args=(-fsS -o /dev/null --max-time 5 --resolve "$host:$port:127.0.0.1")
  [[ -f "$ca" ]] && args+=(--cacert "$ca")
  for _ in $(seq 15); do
    curl "${args[@]}" "$origin/healthz" 2>/dev/null && return 0
    sleep 1
  done
  curl "${args[@]}" "$origin/healthz" || die "the stack is up but $origin/healthz does not answer through nginx"
}

# --- commands ------------------------------------------------------------------------------------------
cmd_up() {
  "$root/scripts/ensure-tools.sh" docker
  engine start
  pick_compose
  "$root/scripts/gen-env.sh" "$env_file"
  check_origin
  # Only the leaf certificate is mounted into nginx; never the CA key.
  if [[ ! -f "$root/certs/localhost.crt" || ! -f "$root/certs/localhost.key" ]]; then
    "$root/scripts/certs.sh" "$root/certs"
  fi
  write_secrets
  check_ports
  ensure_base_images
  # Label values from the commit, not the clock: an unchanged tree rebuilds to the same image,
  # so `up` does not recreate a healthy service for nothing.
  GIT_REVISION=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
  BUILD_CREATED=$(git -C "$root" log -1 --format=%cI 2>/dev/null || echo unknown)
  export GIT_REVISION BUILD_CREATED
  note "building the service image"
  compose build service
  note "starting the stack"
  compose up -d --remove-orphans
  wait_healthy
  # compose may have recreated the service (new image or config) and kept nginx.
  reload_nginx
  probe_edge
  write_smoke_env
  local origin user
  origin=$(setting PUBLIC_ORIGIN https://localhost)
  user=$(env_get ADMIN_USERNAME)
  echo
  echo "authstack is up: $origin"
  if [[ -n "${CI:-}" ]]; then
    echo "admin login: ${user:-admin} / (ADMIN_PASSWORD in $env_file)"
  else
    echo "admin login: ${user:-admin} / $(env_get ADMIN_PASSWORD)"
  fi
  echo "CA certificate to trust: $root/certs/ca.crt"
}

cmd_down() {
  engine
  # Name the monitoring profile too, so a Prometheus started with it is stopped as well.
  COMPOSE_PROFILES=${COMPOSE_PROFILES:-monitoring} compose down --remove-orphans "$@"
  rm -f "$smoke_env"
}

cmd_logs() {
  engine
  local follow=(-f)
  if [[ "${1:-}" == "--no-follow" ]]; then follow=(); shift; fi
  compose logs --no-color --tail=500 "${follow[@]}" "$@"
}

cmd_restart() {
  engine
  compose restart "$@"
  wait_healthy
  if [[ $# -eq 0 || " $* " == *" service "* ]]; then reload_nginx; fi
}

cmd_recreate() {
  [[ $# -gt 0 ]] || die "recreate needs service names"
  engine
  write_secrets
  compose up -d --no-deps --force-recreate "$@"
  wait_healthy
  if [[ " $* " == *" service "* ]]; then reload_nginx; fi
}

cmd_users() {
  engine
  local id tty=(-i)
  id=$(container_of service)
  [[ -n "$id" ]] || die "the service is not running (make up)"
  [[ -t 0 && -t 1 ]] && tty=(-it)
  docker exec "${tty[@]}" "$id" node dist/cli/users.js "$@"
}

cmd_smoke() {
  engine
  [[ -f "$smoke_env" ]] || write_smoke_env
  cd "$root"
  npm run smoke
}

cmd_service_logs() {
  engine
  local id
  id=$(container_of service)
  [[ -n "$id" ]] || die "the service is not running"
  docker logs "$id" 2>&1
}

[[ $# -gt 0 ]] || { usage >&2; exit 2; }
cmd=$1
shift
case "$cmd" in
  -h|--help|help) usage ;;
  up) cmd_up ;;
  down) cmd_down "$@" ;;
  logs) cmd_logs "$@" ;;
  ps) engine; compose ps "$@" ;;
  config) compose config "$@" ;;
  restart) cmd_restart "$@" ;;
  recreate) cmd_recreate "$@" ;;
  rotate-secret) STACK=docker exec "$root/scripts/rotate-secret.sh" "$@" ;;
  backup) STACK=docker exec "$root/scripts/backup-redis.sh" "$@" ;;
  users) cmd_users "$@" ;;
  smoke) cmd_smoke ;;
  secrets) write_secrets ;;
  service-logs) cmd_service_logs ;;
  wait) engine; wait_healthy ;;
  compose) engine; compose "$@" ;;
  *) usage >&2; exit 2 ;;
esac
