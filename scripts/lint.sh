#!/usr/bin/env bash
# Static checks beyond tsc (npm run lint runs tsc first):
#   ShellCheck on every script, yamllint on compose and Prometheus files,
#   nginx -t on the rendered edge config, promtool on the Prometheus config, rules and rule tests.
#   scripts/lint.sh
set -euo pipefail

if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
"$root/scripts/ensure-tools.sh" shellcheck yamllint nginx promtool envsubst openssl

echo "lint: shellcheck"
mapfile -t shell_scripts < <(find scripts deploy -name '*.sh' -type f; echo .ci/run)
shellcheck "${shell_scripts[@]}"

echo "lint: yamllint"
yamllint -s -d '{extends: default, rules: {line-length: {max: 140}, document-start: disable, truthy: {check-keys: false}}}' \
  docker-compose.yml deploy/prometheus

echo "lint: nginx -t on the rendered config"
"$root/scripts/native-stack.sh" check-nginx

echo "lint: promtool"
"$root/scripts/check-prometheus.sh"
echo "lint: ok"
