#!/usr/bin/env bash
# CI for the Docker stack (issue #5), run by .ci/run after `make test`:
#   scripts/ci-docker.sh
#   1. start a Docker engine if none answers (Debian's docker.io)
#   2. build the stand-in base images when the registry is unreachable
#   3. make up STACK=docker, then make smoke
#   4. persistence: restart service, then redis; a session and the users survive both
#   5. make rotate-secret; the existing session still works
#   6. make down (always, also on failure, after dumping ps and logs)
# Prints the elapsed time of each phase. The project's volumes are removed at the start and at
# the end: a fresh clone has fresh secrets, which stale Redis data would contradict.
# Env: CI_KEEP_ENGINE=1 leaves an engine this script started running (default: stop it).
set -euo pipefail

if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export STACK=docker
stack=("$root/scripts/docker-stack.sh")

# --- phases and their timing ------------------------------------------------------------------
phase_names=()
phase_secs=()
phase_name=""
phase_start=$SECONDS
end_phase() {
  [[ -n "$phase_name" ]] || return 0
  phase_names+=("$phase_name")
  phase_secs+=($((SECONDS - phase_start)))
  echo "== done: $phase_name ($((SECONDS - phase_start))s)"
  phase_name=""
}
phase() {
  end_phase
  phase_name=$1
  phase_start=$SECONDS
  echo
  echo "== phase: $phase_name"
}
summary() {
  local i
  echo
  echo "== ci-docker phase timings"
  for i in "${!phase_names[@]}"; do
    printf '   %-48s %4ss\n' "${phase_names[i]}" "${phase_secs[i]}"
  done
  printf '   %-48s %4ss\n' total "$SECONDS"
}

started_engine=0
jar_dir=$(mktemp -d)
finish() {
  local rc=$?
  set +e
  rm -rf "$jar_dir"
  if [[ $rc -ne 0 ]]; then
    [[ -n "$phase_name" ]] && echo "== FAILED in phase: $phase_name"
    echo "== docker-stack ps"
    "${stack[@]}" ps
    echo "== docker-stack logs (last 500 lines per service)"
    "${stack[@]}" logs --no-follow
  fi
  phase "teardown (make down, remove volumes)"
  make down
  "${stack[@]}" compose down --volumes --remove-orphans >/dev/null 2>&1
  if [[ $started_engine -eq 1 && "${CI_KEEP_ENGINE:-0}" != 1 ]]; then
    scripts/start-docker-engine.sh --stop
  fi
  end_phase
  summary
  [[ $rc -eq 0 ]] && echo "== ci-docker: OK" || echo "== ci-docker: FAILED (exit $rc)"
  exit "$rc"
}
trap finish EXIT

# --- HTTPS session checks through nginx ---------------------------------------------------------
env_get() { sed -n "s/^$1=//p" .env | tail -n 1; }
base_url() { sed -n 's/^BASE_URL=//p' .run/smoke.env; }
https() { curl -sS --cacert certs/ca.crt --max-time 10 "$@"; }

# login JAR USER PASSWORD: POST /api/login, keep the session cookie in JAR.
login() {
  local code body
  body=$(jq -cn --arg u "$2" --arg p "$3" '{username:$u,password:$p}')
  code=$(https -o /dev/null -w '%{http_code}' -c "$jar_dir/$1" -H 'content-type: application/json' \
           -d "$body" "$(base_url)/api/login")
  [[ "$code" == 200 ]] || { echo "login as $2: expected 200, got $code" >&2; return 1; }
  echo "   login as $2: 200"
}

# me JAR USER: GET /api/me with JAR is 200 for USER. A 401 (session lost) fails at once; a
# 5xx or connection error is retried for a while (the service reconnecting to Redis).
me() {
  local code user
  for _ in $(seq 30); do
    code=$(https -o "$jar_dir/me.json" -w '%{http_code}' -b "$jar_dir/$1" "$(base_url)/api/me" || echo 000)
    case "$code" in
      200)
        user=$(jq -r '.user.username' "$jar_dir/me.json")
        [[ "$user" == "$2" ]] || { echo "/api/me: expected user $2, got $user" >&2; return 1; }
        echo "   /api/me with the saved cookie: 200 as $user"
        return 0 ;;
      401) echo "/api/me: 401, the session of $2 is gone" >&2; return 1 ;;
      *) sleep 1 ;;
    esac
  done
  echo "/api/me: still $code after 30 s" >&2
  return 1
}

# --- 1. engine ------------------------------------------------------------------------------------
phase "1. Docker engine"
scripts/ensure-tools.sh docker docker-compose curl jq
if DOCKER_HOST=$(scripts/start-docker-engine.sh --find 2>/dev/null); then
  echo "   engine already answering on $DOCKER_HOST"
else
  DOCKER_HOST=$(scripts/start-docker-engine.sh)
  started_engine=1
fi
export DOCKER_HOST
docker version --format '   engine {{.Server.Version}}, client {{.Client.Version}}'
# Leftovers of an aborted run (same machine, same data root) must not leak into this one.
"${stack[@]}" compose down --volumes --remove-orphans >/dev/null 2>&1 || true

# --- 2. base images -------------------------------------------------------------------------------
phase "2. base images (stand-ins when no registry)"
mapfile -t needed < <(scripts/build-standin-images.sh --list)
missing=()
for img in "${needed[@]}"; do
  docker image inspect "$img" >/dev/null 2>&1 || missing+=("$img")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "   all base images present: ${needed[*]}"
elif timeout 60 docker pull -q "${missing[0]}" >/dev/null 2>&1; then
  for img in "${missing[@]:1}"; do docker pull -q "$img"; done
else
  echo "   registry unreachable (pull of ${missing[0]} failed): building stand-ins for ${missing[*]}"
  scripts/ensure-tools.sh debootstrap
  scripts/build-standin-images.sh
fi

# --- 3. up + smoke --------------------------------------------------------------------------------
phase "3a. make up STACK=docker"
make up STACK=docker

phase "3b. make smoke"
# Docker's userland proxy makes local clients appear as the edge network's gateway.
SMOKE_EXPECTED_CLIENT_IP=$(sed -n 's/^SMOKE_EXPECTED_CLIENT_IP=//p' .run/smoke.env)
export SMOKE_EXPECTED_CLIENT_IP
make smoke

# --- 4. persistence -------------------------------------------------------------------------------
phase "4a. sessions and users before restarts"
admin=$(env_get ADMIN_USERNAME)
admin_password=$(env_get ADMIN_PASSWORD)
user="ci-$(openssl rand -hex 4)"
user_password=$(openssl rand -base64 24)
printf '%s\n' "$user_password" | make -s users ARGS="add $user"
make -s users ARGS="ls" </dev/null | grep -qw -- "$user" \
  || { echo "make users ARGS=ls does not list $user" >&2; exit 1; }
echo "   make users: added and listed $user"
login admin "$admin" "$admin_password"
login user "$user" "$user_password"
me admin "$admin"
me user "$user"

phase "4b. restart service: sessions and users survive"
scripts/stack.sh restart service
me admin "$admin"
me user "$user"

phase "4c. restart redis: sessions and users survive"
scripts/stack.sh restart redis
me admin "$admin"
me user "$user"
login admin2 "$admin" "$admin_password"
login user2 "$user" "$user_password"

# --- 5. rotation ----------------------------------------------------------------------------------
phase "5. make rotate-secret: the old cookie keeps working"
before=$(env_get SESSION_SECRETS)
make rotate-secret
after=$(env_get SESSION_SECRETS)
# newest first: a new secret, then the one that signed until now
[[ "$after" == *",${before%%,*}" && "${after%%,*}" != "${before%%,*}" ]] \
  || { echo "SESSION_SECRETS was not rotated as expected" >&2; exit 1; }
echo "   SESSION_SECRETS: $(tr ',' '\n' <<<"$after" | wc -l) secrets, the previous one kept"
me admin "$admin"
me user "$user"
login admin3 "$admin" "$admin_password"
me admin3 "$admin"

phase "5b. make backup"
make backup


end_phase
