#!/usr/bin/env bash
# Makes sure a Docker engine answers, starting Debian's dockerd in the background when none does,
# and prints the DOCKER_HOST to use on stdout (all messages go to stderr).
#   eval "export DOCKER_HOST=$(scripts/start-docker-engine.sh)"
#   scripts/start-docker-engine.sh --find     # only print an answering DOCKER_HOST (never start one)
#   scripts/start-docker-engine.sh --stop     # stop the engine this script started (by its pidfile)
# For machines without systemd (CI containers, sandboxes): the engine gets its own socket,
# exec-root and pidfile so it can never collide with a system engine on /var/run/docker.sock.
# Env: DOCKERD_SOCK (/run/docker-x.sock), DOCKERD_DATA_ROOT (/var/lib/docker),
#      DOCKERD_LOG (/var/log/authstack-dockerd.log), DOCKERD_WAIT (60 s).
set -euo pipefail

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sock=${DOCKERD_SOCK:-/run/docker-x.sock}
exec_root=${sock%.sock}                 # /run/docker-x: containerd shims and netns live here
pidfile=${sock%.sock}.pid
data_root=${DOCKERD_DATA_ROOT:-/var/lib/docker}
log=${DOCKERD_LOG:-/var/log/authstack-dockerd.log}
wait_s=${DOCKERD_WAIT:-60}

answers() { DOCKER_HOST=$1 docker info >/dev/null 2>&1; }

case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  --stop)
    if [[ -s "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      pid=$(cat "$pidfile")
      echo "stopping dockerd (pid $pid)" >&2
      kill -TERM "$pid"
      # dockerd stops its containers first (10 s grace each), so give it time.
      for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 1; done
      echo "error: dockerd (pid $pid) still running after 60 s" >&2
      exit 1
    fi
    echo "no dockerd started by this script is running" >&2
    exit 0 ;;
  ""|--find) ;;
  *) usage >&2; exit 2 ;;
esac

# 1. An engine that already answers wins: the caller's DOCKER_HOST, the system socket, ours.
# --find only looks (cheap enough for mode detection); starting may install the client.
if [[ "${1:-}" == "--find" ]]; then
  command -v docker >/dev/null 2>&1 || { echo "error: no docker client installed" >&2; exit 1; }
else
  "$root/scripts/ensure-tools.sh" docker
fi
for host in ${DOCKER_HOST:+"$DOCKER_HOST"} unix:///var/run/docker.sock "unix://$sock"; do
  if answers "$host"; then echo "$host"; exit 0; fi
done
if [[ "${1:-}" == "--find" ]]; then
  echo "error: no Docker engine answers (DOCKER_HOST=${DOCKER_HOST:-unset}, /var/run/docker.sock, $sock)." >&2
  echo "       Start one: scripts/start-docker-engine.sh" >&2
  exit 1
fi

# 2. Start Debian's docker.io engine. Needs root (namespaces, iptables, mounts).
if [[ $EUID -ne 0 ]]; then
  echo "error: no Docker engine answers and starting one needs root." >&2
  echo "       Start one (e.g. 'sudo systemctl start docker') or rerun as root." >&2
  exit 1
fi
"$root/scripts/ensure-tools.sh" dockerd
if [[ -s "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "dockerd (pid $(cat "$pidfile")) is running but not answering yet; waiting" >&2
else
  rm -f "$pidfile"
  echo "starting dockerd on unix://$sock (data root $data_root, log $log)" >&2
  mkdir -p "$(dirname "$log")"
  # setsid + closed stdin + redirected output: the engine outlives this script and never holds
  # the caller's pipes open (a CI runner would otherwise wait for it forever).
  setsid dockerd --data-root "$data_root" --exec-root "$exec_root" --pidfile "$pidfile" \
    -H "unix://$sock" </dev/null >>"$log" 2>&1 &
fi
for _ in $(seq "$wait_s"); do
  if answers "unix://$sock"; then echo "unix://$sock"; exit 0; fi
  sleep 1
done
echo "error: dockerd did not answer on unix://$sock within ${wait_s}s; last log lines:" >&2
tail -n 30 "$log" >&2 || true
exit 1
