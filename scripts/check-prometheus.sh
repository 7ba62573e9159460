#!/usr/bin/env bash
# Lints the monitoring config: promtool checks deploy/prometheus/prometheus.yml (syntax: the
# token file exists only inside the container) and the alert rules, then runs the rule unit
# tests in deploy/prometheus/tests/.
#   scripts/check-prometheus.sh
set -euo pipefail

if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/ensure-tools.sh" promtool
cd "$root/deploy/prometheus"
promtool check config --syntax-only prometheus.yml
promtool check rules rules/*.yml
# Paths in the test files are relative to deploy/prometheus/tests/.
promtool test rules tests/*.yml
