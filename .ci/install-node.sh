#!/usr/bin/env bash
# Installs Node <major> from the npm registry's `node` package into .ci/node-<major>/ (once) and
# prints the directory that holds its `node` binary.
set -euo pipefail
cd "$(dirname "$0")/.."
major="$1"
dir=".ci/node-$major"
if [ ! -x "$dir/node_modules/node/bin/node" ]; then
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "node@$major" >&2
fi
"$dir/node_modules/node/bin/node" --version >/dev/null
echo "$(cd "$dir/node_modules/node/bin" && pwd)"
