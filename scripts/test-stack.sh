#!/usr/bin/env bash
# End-to-end test of the stack without Docker: build, start the native stack in a throwaway run
# directory (own .env, own certificates, free ports), run the HTTPS smoke tests against it,
# and always tear it down. A stack started with `make up` is never touched.
#   scripts/test-stack.sh [jest args...]      e.g. scripts/test-stack.sh -t 'rate limit'
# KEEP_RUN_DIR=1 keeps the run directory (logs, config) even when the tests pass; after a
# failure it is always kept, and its path printed.
set -euo pipefail

if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
PATH="$("$root/scripts/ensure-node.sh"):$PATH"
export PATH

"$root/scripts/ensure-tools.sh" redis-server redis-cli nginx openssl chromium

run_dir="$root/.run/test-$$"
mkdir -p "$run_dir"
# Everything below is scoped to this run: the native script reads these, not the defaults.
export RUN_DIR="$run_dir"
export ENV_FILE="$run_dir/test.env"
export CERTS_DIR="$run_dir/certs"
# Hermetic: no real-certificate settings or smoke overrides from the caller's shell.
unset TLS_CERT TLS_KEY TLS_OCSP BASE_URL SMOKE_EXPECTED_CLIENT_IP

passed=false
cleanup() {
  local status=$?
  "$root/scripts/native-stack.sh" down || true
  if [[ "$passed" == true && "${KEEP_RUN_DIR:-0}" != 1 ]]; then
    rm -rf "$run_dir"
  else
    echo "test-stack: run directory kept for inspection: $run_dir" >&2
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Four distinct free ports, chosen by the kernel. A port could be taken again before nginx
# binds it; native-stack.sh then fails clearly on the explicit port instead of picking another.
read -r HTTPS_PORT HTTP_PORT SERVICE_PORT REDIS_PORT < <(node -e '
  const net = require("net");
  const servers = [0, 1, 2, 3].map(() => net.createServer());
  Promise.all(servers.map((s) => new Promise((ok) => s.listen({ port: 0, host: "127.0.0.1" }, ok))))
    .then(() => { console.log(servers.map((s) => s.address().port).join(" ")); servers.forEach((s) => s.close()); });
')
export HTTPS_PORT HTTP_PORT SERVICE_PORT REDIS_PORT

npm run build
"$root/scripts/gen-env.sh" "$ENV_FILE"
CERTS_USE_MKCERT=never "$root/scripts/certs.sh" "$CERTS_DIR" 2>/dev/null
"$root/scripts/native-stack.sh" up

# The smoke tests get the stack through their public inputs only (docs/edge.md).
BASE_URL="https://localhost:$HTTPS_PORT" \
  SMOKE_HTTP_URL="http://localhost:$HTTP_PORT" \
  SMOKE_ENV_FILE="$ENV_FILE" \
  SMOKE_CA_FILE="$CERTS_DIR/ca.crt" \
  SMOKE_SERVICE_LOG_CMD="cat '$run_dir/service.log'" \
  SMOKE_STACK_FILE="$run_dir/no-stack-file" \
  npm run smoke -- "$@"
passed=true
