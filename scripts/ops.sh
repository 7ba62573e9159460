#!/usr/bin/env bash
# The stack tooling (ops/, TypeScript that Node runs directly) with the pinned Node.js first on
# PATH, for use outside make:
#   scripts/ops.sh <command> [args]      e.g. scripts/ops.sh ps, scripts/ops.sh --help
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PATH="$("$root/scripts/ensure-node.sh"):$PATH"
export PATH
[[ -f "$root/node_modules/.package-lock.json" ]] || (cd "$root" && npm ci --no-audit --no-fund >&2)
exec node "$root/ops/cli.ts" "$@"
