#!/usr/bin/env bash
# Installs the npm dependencies when node_modules is missing or older than package-lock.json.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "Installing npm dependencies…" >&2
  # Not `npm ci`: with omit-lockfile-registry-resolved (set on these machines) npm writes lock files without
  # other platforms' optional packages, which `npm ci` then refuses. --no-save installs the locked
  # versions and leaves package-lock.json untouched.
  npm install --no-save --no-audit --no-fund --loglevel=error >&2
fi
