#!/usr/bin/env bash
# Runs a stack command on the Docker stack or the native (no-Docker) stack.
#   scripts/stack.sh up|down|logs|ps|restart|rotate-secret|backup|users [args...]
# Mode: STACK=docker|native forces one; otherwise docker when an engine answers (including the
# one scripts/start-docker-engine.sh starts on its own socket), else native.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [[ $# -eq 0 || "$1" == "--help" || "$1" == "-h" ]]; then
  sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

mode=${STACK:-}
if [[ -z "$mode" ]]; then
  # --find also looks for an engine on the socket scripts/start-docker-engine.sh starts.
  if command -v docker >/dev/null 2>&1 && "$root/scripts/start-docker-engine.sh" --find >/dev/null 2>&1; then
    mode=docker
  else
    mode=native
  fi
fi

case "$mode" in
  docker) exec "$root/scripts/docker-stack.sh" "$@" ;;
  native) exec "$root/scripts/native-stack.sh" "$@" ;;
  *) echo "error: STACK must be 'docker' or 'native', got '$mode'" >&2; exit 2 ;;
esac
