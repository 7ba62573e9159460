#!/usr/bin/env bash
# Rotates the session signing secret without logging anyone out:
#   scripts/rotate-secret.sh
# Prepends a new random secret to SESSION_SECRETS in ENV_FILE (default .env) and keeps the
# previous one (ROTATE_KEEP=2 secrets in total: the new one signs, the old one still verifies
# existing cookies), then restarts the running service so it reads the new list.
# Mode: STACK=docker|native; otherwise docker when the compose project runs, else native.
# Drop the old secret at the next rotation, once session_secret_fallback_total has stayed at 0
# for a full session lifetime.
set -euo pipefail

if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
env_file=${ENV_FILE:-"$root/.env"}
keep=${ROTATE_KEEP:-2}
[[ "$keep" =~ ^[1-9][0-9]*$ && "$keep" -ge 2 ]] || { echo "error: ROTATE_KEEP must be >= 2" >&2; exit 2; }
[[ -f "$env_file" ]] || { echo "error: $env_file is missing (make up creates it)" >&2; exit 1; }

run_dir=${RUN_DIR:-"$root/.run/native"}
service_container() {
  local host
  host=$("$root/scripts/start-docker-engine.sh" --find 2>/dev/null) || return 0
  DOCKER_HOST=$host docker ps -q --filter label=com.docker.compose.project=authstack \
    --filter label=com.docker.compose.service=service
}
mode=${STACK:-}
if [[ -z "$mode" ]]; then
  mode=native
  [[ -z "$(service_container)" ]] || mode=docker
fi
# Is the service of that stack running? If not, only .env changes: the next start uses it.
running=0
case "$mode" in
  docker) [[ -z "$(service_container)" ]] || running=1 ;;
  native) [[ ! -s "$run_dir/service.pid" ]] || running=1 ;;
  *) echo "error: STACK must be docker or native" >&2; exit 2 ;;
esac

# Same format as scripts/gen-env.sh: 32 random bytes, URL-safe base64 (43 characters).
new=$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n')
current=$(sed -n 's/^SESSION_SECRETS=//p' "$env_file" | tail -n 1)
[[ -n "$current" ]] || { echo "error: no SESSION_SECRETS in $env_file" >&2; exit 1; }
IFS=, read -r -a old <<<"$current"
list=$new
for ((i = 0; i < ${#old[@]} && i < keep - 1; i++)); do list+=",${old[i]}"; done

# Rewrite the file atomically, same mode, every other line untouched.
tmp=$(mktemp "$(dirname "$env_file")/.env.rotate.XXXXXX")
trap 'rm -f "$tmp"' EXIT
chmod --reference="$env_file" "$tmp"
awk -v list="$list" 'BEGIN { done = 0 }
  /^SESSION_SECRETS=/ { if (!done) { print "SESSION_SECRETS=" list; done = 1 } ; next }
  { print }' "$env_file" >"$tmp"
mv -f "$tmp" "$env_file"
trap - EXIT
echo "rotated SESSION_SECRETS in $env_file: ${#old[@]} -> $(( ${#old[@]} + 1 < keep ? ${#old[@]} + 1 : keep )) secrets, newest first" >&2

if [[ $running -eq 0 ]]; then
  echo "the $mode stack is not running: the new secret applies at the next make up" >&2
  exit 0
fi
case "$mode" in
  # A new container: file secrets are bind mounts fixed when a container is created.
  docker) "$root/scripts/docker-stack.sh" recreate service ;;
  native) "$root/scripts/native-stack.sh" restart service ;;
esac
echo "service restarted with the new secret; existing sessions stay valid" >&2
