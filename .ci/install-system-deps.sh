#!/usr/bin/env bash
# System packages the tests need, from Debian's archive: chromium, for the web viewer's browser
# tests and benchmark (driven by playwright-core with executablePath /usr/bin/chromium).
# Installs only what is missing, so it is quick on a machine that has it.
set -euo pipefail

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "install-system-deps: need root (or sudo) to run: $*" >&2; return 1
  fi
}

if [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium (Debian) for the viewer tests"
  export DEBIAN_FRONTEND=noninteractive
  # The package lists may be missing or stale on a fresh machine: update them only when needed.
  as_root apt-get install -y --no-install-recommends chromium \
    || { as_root apt-get update && as_root apt-get install -y --no-install-recommends chromium; }
fi
/usr/bin/chromium --version >/dev/null 2>&1 || { echo "install-system-deps: /usr/bin/chromium does not run" >&2; exit 1; }
