#!/usr/bin/env bash
# System packages the tests need, from Debian's archive. Nothing yet for the core; kept as the
# one place where they are installed.
set -euo pipefail
exit 0
