#!/usr/bin/env bash
# The authstack stack without Docker: redis-server, the built service and nginx as background
# processes of a run directory, with the same configuration files as the compose stack.
#   scripts/native-stack.sh up                     start what is not running; print URL + admin login
#   scripts/native-stack.sh down                   stop exactly the processes `up` started
#   scripts/native-stack.sh logs [--no-follow] [service|nginx|redis]...
#   scripts/native-stack.sh ps                     state, PIDs and ports
#   scripts/native-stack.sh restart [service|nginx|redis]   (nginx: re-render, check, reload)
#   scripts/native-stack.sh rotate-secret          new session secret first, previous kept (rotate-secret.sh)
#   scripts/native-stack.sh backup [FILE]          consistent Redis snapshot into backups/ (backup-redis.sh)
#   scripts/native-stack.sh users <args...>        the user CLI against this stack's Redis
#   scripts/native-stack.sh render-nginx <outdir>  render nginx/ for this machine into outdir
#   scripts/native-stack.sh check-nginx            render into a temp dir and run nginx -t
# Environment: RUN_DIR (.run/native), ENV_FILE (.env), CERTS_DIR (certs), HTTPS_PORT (443 if
# bindable, else 8443), HTTP_PORT (80, else 8080), SERVICE_PORT (3000), REDIS_PORT (6379),
# TLS_CERT, TLS_KEY, TLS_OCSP (also read from ENV_FILE). A port given explicitly must be free;
# a taken default is replaced by a free port, and the script says so. See docs/edge.md.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }

abspath() { if [[ "$1" == /* ]]; then echo "$1"; else echo "$root/$1"; fi; }

run_dir=$(abspath "${RUN_DIR:-.run/native}")
default_run_dir="$root/.run/native"
env_file=$(abspath "${ENV_FILE:-.env}")
certs_dir=$(abspath "${CERTS_DIR:-certs}")
stack_file="$run_dir/stack.env"

# The variables the site template may use; envsubst substitutes these and nothing else, just as
# the nginx image's entrypoint substitutes only defined variables (docs/edge.md).
nginx_template_vars=(UPSTREAM_ADDR NGINX_HTTP_LISTEN NGINX_HTTPS_LISTEN HTTPS_PORT TLS_CERT TLS_KEY TLS_OCSP ACME_WEBROOT)

# Seconds to wait for a process to stop on TERM before KILL (Redis writes its AOF/RDB on TERM).
stop_timeout=${STOP_TIMEOUT:-15}
# Seconds to wait for each component to become ready.
ready_timeout=${READY_TIMEOUT:-60}

say() { echo "native-stack: $*" >&2; }
die() { echo "native-stack: error: $*" >&2; exit 1; }

use_node() {
  local bin
  bin=$("$root/scripts/ensure-node.sh")
  PATH="$bin:$PATH"
  export PATH
}

# ---------------------------------------------------------------------------------------------
# .env handling: plain KEY=VALUE lines, read without executing anything.

# unquote VALUE: drops a trailing CR and one pair of surrounding quotes.
unquote() {
  local value=${1%$'\r'}
  if [[ "$value" =~ ^\"(.*)\"$ || "$value" =~ ^\'(.*)\'$ ]]; then value=${BASH_REMATCH[1]}; fi
  echo "$value"
}

# env_get KEY [FILE]: the value of the last KEY= line, without surrounding quotes.
env_get() {
  local key=$1 file=${2:-$env_file} line value=""
  [[ -f "$file" ]] || { echo ""; return 0; }
  while IFS= read -r line || [[ -n "$line" ]]; do
    [[ "$line" == "$key="* ]] || continue
    value=${line#"$key="}
  done <"$file"
  unquote "$value"
}

# env_lines FILE: every KEY=VALUE line (comments and blanks dropped, quotes removed).
env_lines() {
  local file=$1 line
  [[ -f "$file" ]] || return 0
  while IFS= read -r line || [[ -n "$line" ]]; do
    [[ "$line" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || continue
    echo "${line%%=*}=$(unquote "${line#*=}")"
  done <"$file"
}

# ---------------------------------------------------------------------------------------------
# Processes: RUN_DIR/<name>.pid holds the PID, RUN_DIR/<name>.start its kernel start time, so a
# recycled PID is never mistaken for ours.

proc_start_time() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  # Field 22 (starttime), counted after the ")" that ends the command name.
  stat=${stat##*) }
  awk '{print $20}' <<<"$stat"
}

# pid_of NAME: prints the PID when the recorded process is alive and still ours.
pid_of() {
  local name=$1 pid start
  [[ -f "$run_dir/$name.pid" && -f "$run_dir/$name.start" ]] || return 1
  pid=$(<"$run_dir/$name.pid")
  start=$(<"$run_dir/$name.start")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ "$(proc_start_time "$pid" 2>/dev/null || true)" == "$start" ]] || return 1
  echo "$pid"
}

is_running() { pid_of "$1" >/dev/null; }

# start_bg NAME STDOUT_LOG STDERR_LOG CMD...: runs CMD detached (own session, no terminal) and
# records its PID. Without job control a background child is not a process-group leader, so
# setsid calls setsid() itself and execs: $! is the PID of CMD.
start_bg() {
  local name=$1 out=$2 err=$3 pid start
  shift 3
  setsid "$@" >>"$out" 2>>"$err" </dev/null &
  pid=$!
  sleep 0.2
  start=$(proc_start_time "$pid") || die "$name exited at once; see $err"
  echo "$pid" >"$run_dir/$name.pid"
  echo "$start" >"$run_dir/$name.start"
}

# stop_proc NAME [SIGNAL]: graceful signal (TERM by default), wait, KILL after stop_timeout.
stop_proc() {
  local name=$1 sig=${2:-TERM} pid children i
  if ! pid=$(pid_of "$name"); then
    rm -f "$run_dir/$name.pid" "$run_dir/$name.start"
    return 0
  fi
  # Remember the children (nginx workers): they outlive a KILLed master.
  children=$(ps -o pid= --ppid "$pid" 2>/dev/null | tr -s ' \n' ' ' || true)
  say "stopping $name (pid $pid)"
  kill -"$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < stop_timeout * 10; i++)); do
    is_running "$name" || break
    sleep 0.1
  done
  if is_running "$name"; then
    say "$name did not stop within ${stop_timeout}s; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    if [[ -n "${children// /}" ]]; then
      # shellcheck disable=SC2086 # a space-separated PID list
      kill -KILL $children 2>/dev/null || true
    fi
  fi
  rm -f "$run_dir/$name.pid" "$run_dir/$name.start"
}

# tail_log FILE: the last lines of a log, to explain a failure.
tail_log() { [[ -f "$1" ]] && { echo "--- last lines of $1:" >&2; tail -n 30 "$1" >&2; }; return 0; }

# ---------------------------------------------------------------------------------------------
# Ports.

port_free() {
  node -e '
    const s = require("net").createServer();
    s.once("error", () => process.exit(1));
    s.listen({ port: Number(process.argv[1]), host: "127.0.0.1", exclusive: true }, () => s.close(() => process.exit(0)));
  ' "$1"
}

any_free_port() {
  node -e '
    const s = require("net").createServer();
    s.listen({ port: 0, host: "127.0.0.1" }, () => { console.log(s.address().port); s.close(); });
  '
}

# pick_port LABEL VAR DEFAULT [FALLBACK]: an explicit $VAR must be free; else the default, else
# the fallback, else any free port. Prints the port; says what it chose on stderr.
pick_port() {
  local label=$1 var=$2 default=$3 fallback=${4:-} explicit=${!2:-} port
  if [[ -n "$explicit" ]]; then
    [[ "$explicit" =~ ^[0-9]+$ ]] || die "$var must be a port number, got '$explicit'"
    port_free "$explicit" || die "$var=$explicit is in use (or needs root); free it or choose another $var"
    echo "$explicit"
    return
  fi
  if port_free "$default"; then echo "$default"; return; fi
  if [[ -n "$fallback" ]] && port_free "$fallback"; then
    say "$label: port $default cannot be bound (in use, or not root); using $fallback"
    echo "$fallback"
    return
  fi
  port=$(any_free_port)
  say "$label: port $default${fallback:+ and $fallback} cannot be bound; using free port $port"
  echo "$port"
}

# ---------------------------------------------------------------------------------------------
# Configuration of this run: ports and TLS files, persisted in RUN_DIR/stack.env so that ps,
# logs, restart and a later up use the same values.

load_stack() {
  [[ -f "$stack_file" ]] || return 1
  https_port=$(env_get HTTPS_PORT "$stack_file")
  http_port=$(env_get HTTP_PORT "$stack_file")
  service_port=$(env_get SERVICE_PORT "$stack_file")
  redis_port=$(env_get REDIS_PORT "$stack_file")
  tls_cert=$(env_get TLS_CERT "$stack_file")
  tls_key=$(env_get TLS_KEY "$stack_file")
  tls_ocsp=$(env_get TLS_OCSP "$stack_file")
  ca_file=$(env_get CA_FILE "$stack_file")
  public_origin=$(env_get PUBLIC_ORIGIN "$stack_file")
}

any_running() { is_running nginx || is_running service || is_running redis; }

# Chooses ports and TLS files for `up`. While any component runs, the recorded values stand.
plan_stack() {
  if any_running && load_stack; then return 0; fi
  use_node
  https_port=$(pick_port HTTPS HTTPS_PORT 443 8443)
  http_port=$(pick_port HTTP HTTP_PORT 80 8080)
  service_port=$(pick_port service SERVICE_PORT 3000)
  redis_port=$(pick_port Redis REDIS_PORT 6379)
  local ports="$https_port $http_port $service_port $redis_port"
  [[ $(tr ' ' '\n' <<<"$ports" | sort -u | wc -l) -eq 4 ]] || die "ports must differ: $ports"

  # TLS files: explicit (environment, then ENV_FILE) for real certificates, else the local ones.
  tls_cert=${TLS_CERT:-$(env_get TLS_CERT)}
  tls_key=${TLS_KEY:-$(env_get TLS_KEY)}
  tls_ocsp=${TLS_OCSP:-$(env_get TLS_OCSP)}
  [[ -z "$tls_ocsp" || "$tls_ocsp" == on || "$tls_ocsp" == off ]] || die "TLS_OCSP must be on or off, got '$tls_ocsp'"
  if [[ -n "$tls_cert" || -n "$tls_key" ]]; then
    [[ -n "$tls_cert" && -n "$tls_key" ]] || die "set both TLS_CERT and TLS_KEY, or neither"
    tls_cert=$(abspath "$tls_cert")
    tls_key=$(abspath "$tls_key")
    ca_file=""
    # Unset: staple only when the real certificate names an OCSP responder.
    if [[ -z "$tls_ocsp" ]]; then
      if [[ -n "$(openssl x509 -in "$tls_cert" -noout -ocsp_uri 2>/dev/null)" ]]; then
        tls_ocsp=on
        say "OCSP stapling on: $tls_cert names an OCSP responder (TLS_OCSP=off to disable)"
      else
        tls_ocsp=off
        say "OCSP stapling off: $tls_cert names no OCSP responder"
      fi
    fi
  else
    tls_cert="$certs_dir/localhost.crt"
    tls_key="$certs_dir/localhost.key"
    ca_file="$certs_dir/ca.crt"
    # The local CA has no OCSP responder.
    tls_ocsp=${tls_ocsp:-off}
  fi

  # The origin the browser uses. The service rejects POSTs whose Origin differs, so the port
  # must be part of it whenever it is not 443.
  local configured host
  configured=$(env_get PUBLIC_ORIGIN)
  configured=${configured:-https://localhost}
  host=$(sed -E 's#^[a-zA-Z]+://(\[[^]]+\]|[^/:]+).*#\1#' <<<"$configured")
  public_origin="https://$host"
  [[ "$https_port" == 443 ]] || public_origin+=":$https_port"

  mkdir -p "$run_dir"
  cat >"$stack_file" <<EOF
# Written by scripts/native-stack.sh up; read by ps, logs, restart and later runs.
HTTPS_PORT=$https_port
HTTP_PORT=$http_port
SERVICE_PORT=$service_port
REDIS_PORT=$redis_port
TLS_CERT=$tls_cert
TLS_KEY=$tls_key
TLS_OCSP=$tls_ocsp
CA_FILE=$ca_file
PUBLIC_ORIGIN=$public_origin
EOF
}

require_stack() {
  load_stack || die "no stack in $run_dir; start it with: make up (or scripts/native-stack.sh up)"
}

http_origin() {
  local host
  host=$(sed -E 's#^https://(\[[^]]+\]|[^/:]+).*#\1#' <<<"$public_origin")
  if [[ "$http_port" == 80 ]]; then echo "http://$host"; else echo "http://$host:$http_port"; fi
}

# ---------------------------------------------------------------------------------------------
# nginx rendering.

# render_into OUTDIR: nginx/ rendered with the template variables currently exported.
render_into() {
  local out=$1 var format="" t name leftover
  for var in "${nginx_template_vars[@]}"; do
    [[ -n "${!var:-}" ]] || die "render-nginx: $var is not set"
    format+="\${$var} "
  done
  mkdir -p "$out/conf.d" "$out/snippets" "$out/tmp"
  cp "$root/nginx/nginx.conf" "$out/nginx.conf"
  cp "$root/nginx/snippets/"*.conf "$out/snippets/"
  rm -f "$out/conf.d/"*.conf
  for t in "$root/nginx/templates/"*.conf.template; do
    name=$(basename "$t" .template)
    envsubst "$format" <"$t" >"$out/conf.d/$name"
    # An unknown ${VAR} left behind would be a template bug; nginx would fail less clearly.
    # shellcheck disable=SC2016 # a literal ${
    if leftover=$(grep -n '\${' "$out/conf.d/$name"); then
      die "render-nginx: unsubstituted variable in $name: $leftover"
    fi
  done
  # Native only: temp files inside the run directory instead of /var/lib/nginx. http-level
  # directives, so they ride along in conf.d/ (the container keeps its compiled-in paths).
  cat >"$out/conf.d/00-native-paths.conf" <<EOF
# Rendered by scripts/native-stack.sh: temp paths inside the run directory, not /var.
client_body_temp_path $out/tmp/client_body;
proxy_temp_path $out/tmp/proxy;
fastcgi_temp_path $out/tmp/fastcgi;
uwsgi_temp_path $out/tmp/uwsgi;
scgi_temp_path $out/tmp/scgi;
EOF
}

# The global directives nginx.conf leaves to the runtime (see its header).
nginx_globals() {
  local out=$1
  local globals="daemon off; pid $out/nginx.pid;"
  if [[ $EUID -eq 0 ]]; then
    # Workers must not run as root: www-data on Debian, else nobody with its own group.
    if id www-data >/dev/null 2>&1; then
      globals+=" user www-data;"
    else
      globals+=" user nobody $(id -gn nobody);"
    fi
  fi
  echo "$globals"
}

export_nginx_vars() {
  export UPSTREAM_ADDR="127.0.0.1:$service_port"
  export NGINX_HTTP_LISTEN="127.0.0.1:$http_port"
  export NGINX_HTTPS_LISTEN="127.0.0.1:$https_port"
  export HTTPS_PORT="$https_port"
  export TLS_CERT="$tls_cert"
  export TLS_KEY="$tls_key"
  export TLS_OCSP="$tls_ocsp"
  export ACME_WEBROOT="$run_dir/acme"
}

nginx_test() {
  local out=$1
  nginx -t -q -p "$out/" -c "$out/nginx.conf" -g "$(nginx_globals "$out")"
}

# ---------------------------------------------------------------------------------------------
# Components.

# Missing tools are apt-installed when possible, else the exact install command is printed.
ensure_tools() { "$root/scripts/ensure-tools.sh" "$@"; }

build_if_stale() {
  cd "$root"
  if [[ ! -f node_modules/.package-lock.json ]]; then
    say "installing npm dependencies (npm ci)"
    npm ci --no-audit --no-fund
  fi
  if [[ ! -f dist/server.js ]] ||
    [[ -n "$(find service/src tsconfig.json tsconfig.build.json package-lock.json -newer dist/server.js -print -quit 2>/dev/null)" ]]; then
    say "building the service (npm run build)"
    npm run build
  fi
}

redis_env() { REDISCLI_AUTH=$(env_get REDIS_PASSWORD) "$@"; }

start_redis() {
  is_running redis && { say "redis already running (pid $(pid_of redis))"; return 0; }
  local password conf="$run_dir/redis.conf"
  password=$(env_get REDIS_PASSWORD)
  [[ -n "$password" ]] || die "REDIS_PASSWORD is empty in $env_file"
  mkdir -p "$run_dir/redis"
  chmod 700 "$run_dir/redis"
  # The project's redis.conf plus this run's settings. The password goes in this 0600 file,
  # not on the command line, where every local user could read it in ps.
  (
    umask 077
    cat >"$conf" <<EOF
# Rendered by scripts/native-stack.sh: deploy/redis.conf + native run-time settings.
include $root/deploy/redis.conf
bind 127.0.0.1
port $redis_port
dir $run_dir/redis
pidfile $run_dir/redis/redis-server.pid
daemonize no
logfile ""
requirepass "$password"
EOF
  )
  say "starting redis on 127.0.0.1:$redis_port"
  start_bg redis "$run_dir/redis.log" "$run_dir/redis.log" redis-server "$conf"
  local i
  for ((i = 0; i < ready_timeout * 5; i++)); do
    if [[ "$(redis_env redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null)" == PONG ]]; then return 0; fi
    is_running redis || { tail_log "$run_dir/redis.log"; die "redis exited"; }
    sleep 0.2
  done
  tail_log "$run_dir/redis.log"
  die "redis did not answer PING within ${ready_timeout}s"
}

# The service's environment: ENV_FILE, then this stack's computed values. It starts from an
# empty environment (env -i) so nothing from the caller's shell leaks in by accident.
service_env() {
  env_lines "$env_file"
  echo "PATH=$PATH"
  echo "HOME=${HOME:-/}"
  echo "NODE_ENV=production"
  echo "HOST=127.0.0.1"
  echo "PORT=$service_port"
  echo "REDIS_URL=redis://127.0.0.1:$redis_port"
  echo "PUBLIC_ORIGIN=$public_origin"
  echo "TRUST_PROXY=1"
  echo "COOKIE_SECURE=true"
}

start_service() {
  is_running service && { say "service already running (pid $(pid_of service))"; return 0; }
  local -a envs
  mapfile -t envs < <(service_env)
  say "starting the service on 127.0.0.1:$service_port"
  (cd "$root" && start_bg service "$run_dir/service.log" "$run_dir/service.log" env -i "${envs[@]}" node dist/server.js)
  local i status
  for ((i = 0; i < ready_timeout * 5; i++)); do
    status=$(node -e '
      require("http").get({ host: "127.0.0.1", port: Number(process.argv[1]), path: "/healthz", timeout: 2000 },
        (r) => { console.log(r.statusCode); r.resume(); }).on("error", () => console.log(0));
    ' "$service_port")
    [[ "$status" == 200 ]] && return 0
    is_running service || { tail_log "$run_dir/service.log"; die "the service exited"; }
    sleep 0.2
  done
  tail_log "$run_dir/service.log"
  die "the service did not answer /healthz within ${ready_timeout}s"
}

start_nginx() {
  is_running nginx && { say "nginx already running (pid $(pid_of nginx))"; return 0; }
  local out="$run_dir/nginx"
  export_nginx_vars
  mkdir -p "$run_dir/acme/.well-known/acme-challenge"
  render_into "$out"
  nginx_test "$out" || die "nginx -t failed on $out/nginx.conf"
  say "starting nginx: https on 127.0.0.1:$https_port, http on 127.0.0.1:$http_port"
  start_bg nginx "$run_dir/nginx-access.log" "$run_dir/nginx-error.log" \
    nginx -p "$out/" -c "$out/nginx.conf" -g "$(nginx_globals "$out")"
}

# https_status PATH: status code of GET PATH through nginx. With the local CA the certificate is
# verified too; a certificate of your own (TLS_CERT) is the smoke tests' business, not this probe's.
https_status() {
  node -e '
    const [origin, port, path, caFile] = process.argv.slice(1);
    const fs = require("fs");
    const host = new URL(origin).hostname.replace(/^\[|\]$/g, "");
    const verify = Boolean(caFile && fs.existsSync(caFile));
    require("https").get({ host: "127.0.0.1", port: Number(port), path, servername: require("net").isIP(host) ? undefined : host,
      ca: verify ? [fs.readFileSync(caFile, "utf8")] : undefined, rejectUnauthorized: verify,
      headers: { host: new URL(origin).host }, timeout: 3000, agent: false },
      (r) => { console.log(r.statusCode); r.resume(); })
      .on("error", (e) => { console.log(0); console.error(e.message); });
  ' "$public_origin" "$https_port" "$1" "$ca_file"
}

wait_edge_ready() {
  local i status
  for ((i = 0; i < ready_timeout * 4; i++)); do
    status=$(https_status /readyz 2>"$run_dir/.ready-error") || true
    [[ "$status" == 200 ]] && return 0
    is_running nginx || { tail_log "$run_dir/nginx-error.log"; die "nginx exited"; }
    sleep 0.25
  done
  tail_log "$run_dir/nginx-error.log"
  tail_log "$run_dir/service.log"
  die "https://127.0.0.1:$https_port/readyz did not answer 200 within ${ready_timeout}s (last: $status $(cat "$run_dir/.ready-error" 2>/dev/null))"
}

# A description of the running stack for the smoke tests (docs/edge.md, SMOKE_STACK_FILE).
write_smoke_file() {
  local file="$run_dir/smoke.env"
  cat >"$file" <<EOF
# Written by scripts/native-stack.sh up: how the smoke tests reach this stack.
BASE_URL=$public_origin
SMOKE_HTTP_URL=$(http_origin)
SMOKE_ENV_FILE=$env_file
SMOKE_CA_FILE=$ca_file
SMOKE_SERVICE_LOG_CMD=cat '$run_dir/service.log'
EOF
  # `make smoke` finds the stack `make up` started here.
  if [[ "$run_dir" == "$default_run_dir" ]]; then cp "$file" "$root/.run/smoke.env"; fi
}

print_access() {
  local user password
  user=$(env_get ADMIN_USERNAME)
  password=$(env_get ADMIN_PASSWORD)
  cat >&2 <<EOF

  authstack is up (native): $public_origin
    log in as:  ${user:-<ADMIN_USERNAME unset>} / ${password:-<ADMIN_PASSWORD unset>}   (from $env_file)
    HTTPS on port $https_port, plain HTTP on port $http_port redirects to it
    logs: make logs    processes: make ps    stop: make down
EOF
  if [[ -n "$ca_file" ]]; then
    echo "    certificate: local CA $ca_file (see scripts/certs.sh output to trust it in browsers)" >&2
  fi
}

# ---------------------------------------------------------------------------------------------
# Commands.

cmd_up() {
  if is_running nginx && is_running service && is_running redis && load_stack; then
    say "already running in $run_dir"
    print_access
    return 0
  fi
  ensure_tools redis-server redis-cli nginx openssl envsubst
  use_node
  build_if_stale
  "$root/scripts/gen-env.sh" "$env_file"
  plan_stack
  if [[ -n "$ca_file" ]]; then
    "$root/scripts/certs.sh" "$certs_dir"
  fi
  [[ -r "$tls_cert" && -r "$tls_key" ]] || die "TLS_CERT/TLS_KEY not readable: $tls_cert $tls_key"
  start_redis
  start_service
  start_nginx
  wait_edge_ready
  write_smoke_file
  print_access
}

cmd_down() {
  local any=false name
  for name in nginx service redis; do
    if is_running "$name"; then any=true; fi
    # nginx: QUIT lets workers finish in-flight requests; the others drain on TERM.
    if [[ "$name" == nginx ]]; then stop_proc nginx QUIT; else stop_proc "$name"; fi
  done
  [[ "$any" == true ]] || say "nothing running in $run_dir"
  # .run/smoke.env only if it still describes this stack (the Docker stack writes it too).
  if [[ -f "$run_dir/smoke.env" ]] && cmp -s "$run_dir/smoke.env" "$root/.run/smoke.env"; then
    rm -f "$root/.run/smoke.env"
  fi
  rm -f "$run_dir/smoke.env"
  return 0
}

cmd_ps() {
  local name pid
  load_stack || true
  printf '%-8s %-8s %-8s %s\n' NAME STATE PID ADDRESS
  for name in redis service nginx; do
    if pid=$(pid_of "$name"); then state=running; else state=stopped; pid=-; fi
    case "$name" in
      redis) addr="127.0.0.1:${redis_port:-?}" ;;
      service) addr="127.0.0.1:${service_port:-?}" ;;
      nginx) addr="${public_origin:-?} (http ${http_port:-?})" ;;
    esac
    printf '%-8s %-8s %-8s %s\n' "$name" "$state" "$pid" "$addr"
  done
}

cmd_logs() {
  local follow=true files=() name
  for name in "$@"; do
    case "$name" in
      --no-follow) follow=false ;;
      service) files+=("$run_dir/service.log") ;;
      redis) files+=("$run_dir/redis.log") ;;
      nginx) files+=("$run_dir/nginx-access.log" "$run_dir/nginx-error.log") ;;
      *) die "logs: unknown component '$name' (service, nginx, redis)" ;;
    esac
  done
  [[ ${#files[@]} -gt 0 ]] || files=("$run_dir/redis.log" "$run_dir/service.log" "$run_dir/nginx-error.log" "$run_dir/nginx-access.log")
  ls "${files[@]}" >/dev/null 2>&1 || die "no logs in $run_dir yet; start the stack with: make up"
  if [[ "$follow" == true ]]; then exec tail -n 50 -F "${files[@]}"; else tail -n 200 "${files[@]}"; fi
}

cmd_restart() {
  local what=${1:-all}
  require_stack
  use_node
  case "$what" in
    all)
      cmd_down
      HTTPS_PORT=$https_port HTTP_PORT=$http_port SERVICE_PORT=$service_port REDIS_PORT=$redis_port cmd_up
      ;;
    service)
      ensure_tools redis-cli
      build_if_stale
      stop_proc service
      start_service
      wait_edge_ready
      ;;
    redis)
      stop_proc redis
      start_redis
      ;;
    nginx)
      local pid out="$run_dir/nginx"
      export_nginx_vars
      if pid=$(pid_of nginx); then
        # Re-render from nginx/ and reload gracefully (HUP): new workers, no dropped requests.
        render_into "$out"
        nginx_test "$out" || die "nginx -t failed; the running nginx keeps its old config"
        kill -HUP "$pid"
        say "nginx reloaded (pid $pid)"
      else
        start_nginx
      fi
      wait_edge_ready
      ;;
    *) die "restart: unknown component '$what' (service, nginx, redis, or nothing for all)" ;;
  esac
}

# Secret rotation and backups have one implementation for both stacks; these run it in native
# mode against this run's env file and Redis port.
cmd_rotate_secret() {
  [[ -x "$root/scripts/rotate-secret.sh" ]] || die "scripts/rotate-secret.sh is missing"
  # It rewrites ENV_FILE, then calls `native-stack.sh restart service` (RUN_DIR is inherited).
  RUN_DIR=$run_dir ENV_FILE=$env_file STACK=native exec "$root/scripts/rotate-secret.sh"
}

cmd_backup() {
  require_stack
  is_running redis || die "redis is not running; start the stack with: make up"
  [[ -x "$root/scripts/backup-redis.sh" ]] || die "scripts/backup-redis.sh is missing"
  ENV_FILE=$env_file REDIS_PORT=$redis_port STACK=native exec "$root/scripts/backup-redis.sh" "$@"
}

cmd_users() {
  require_stack
  is_running redis || die "redis is not running; start the stack with: make up"
  use_node
  [[ -f "$root/dist/cli/users.js" ]] || build_if_stale
  local -a envs
  mapfile -t envs < <(service_env)
  cd "$root"
  exec env -i "${envs[@]}" node dist/cli/users.js "$@"
}

cmd_render_nginx() {
  local out=${1:-}
  [[ -n "$out" ]] || die "usage: scripts/native-stack.sh render-nginx <outdir>"
  out=$(abspath "$out")
  # Values: the template variables from the environment when set, else this machine's stack
  # (recorded ports, or the defaults).
  if ! load_stack; then
    https_port=${HTTPS_PORT:-8443} http_port=${HTTP_PORT:-8080}
    service_port=${SERVICE_PORT:-3000} redis_port=${REDIS_PORT:-6379}
    tls_cert=${TLS_CERT:-$certs_dir/localhost.crt} tls_key=${TLS_KEY:-$certs_dir/localhost.key}
    tls_ocsp=${TLS_OCSP:-off}
  fi
  local keep_upstream=${UPSTREAM_ADDR:-} keep_http=${NGINX_HTTP_LISTEN:-} keep_https=${NGINX_HTTPS_LISTEN:-}
  local keep_acme=${ACME_WEBROOT:-} keep_cert=${TLS_CERT:-} keep_key=${TLS_KEY:-} keep_ocsp=${TLS_OCSP:-}
  local keep_port=${HTTPS_PORT:-}
  export_nginx_vars
  [[ -z "$keep_upstream" ]] || UPSTREAM_ADDR=$keep_upstream
  [[ -z "$keep_http" ]] || NGINX_HTTP_LISTEN=$keep_http
  [[ -z "$keep_https" ]] || NGINX_HTTPS_LISTEN=$keep_https
  [[ -z "$keep_acme" ]] || ACME_WEBROOT=$keep_acme
  [[ -z "$keep_cert" ]] || TLS_CERT=$keep_cert
  [[ -z "$keep_key" ]] || TLS_KEY=$keep_key
  [[ -z "$keep_ocsp" ]] || TLS_OCSP=$keep_ocsp
  [[ -z "$keep_port" ]] || HTTPS_PORT=$keep_port
  render_into "$out"
  say "rendered nginx config into $out; check it with:"
  echo "nginx -t -p $out/ -c $out/nginx.conf -g '$(nginx_globals "$out")'"
}

cmd_check_nginx() {
  ensure_tools nginx openssl envsubst
  local tmp ocsp
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064 # expand now: the path is fixed
  trap "rm -rf '$tmp'" EXIT
  CERTS_USE_MKCERT=never "$root/scripts/certs.sh" "$tmp/certs" 2>/dev/null
  for ocsp in off on; do
    https_port=8443 http_port=8080 service_port=3000
    tls_cert="$tmp/certs/localhost.crt" tls_key="$tmp/certs/localhost.key" tls_ocsp=$ocsp
    run_dir="$tmp"
    export_nginx_vars
    mkdir -p "$tmp/acme"
    render_into "$tmp/nginx-$ocsp"
    # With TLS_OCSP=on and a local certificate nginx warns that it cannot staple; the syntax
    # and every include are still checked, which is what this is for.
    if ! nginx -t -q -p "$tmp/nginx-$ocsp/" -c "$tmp/nginx-$ocsp/nginx.conf" -g "$(nginx_globals "$tmp/nginx-$ocsp")" 2> >(grep -v 'ssl_stapling' >&2); then
      die "nginx -t failed on the rendered config (TLS_OCSP=$ocsp)"
    fi
  done
  say "nginx -t passed on the rendered config (TLS_OCSP=off and on)"
}

cmd=${1:-}
[[ $# -gt 0 ]] && shift
case "$cmd" in
  up) cmd_up ;;
  down) cmd_down ;;
  logs) cmd_logs "$@" ;;
  ps) cmd_ps ;;
  restart) cmd_restart "$@" ;;
  rotate-secret) cmd_rotate_secret ;;
  backup) cmd_backup "$@" ;;
  users) cmd_users "$@" ;;
  render-nginx) cmd_render_nginx "$@" ;;
  check-nginx) cmd_check_nginx ;;
  -h | --help | help | "") usage ;;
  *) usage; exit 2 ;;
esac
