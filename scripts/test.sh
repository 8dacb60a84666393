#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs npm packages and the Temporal CLI when missing,
# then runs vitest, which starts one PostgreSQL and one Temporal dev server for the run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/ensure-node-modules.sh
node --import tsx scripts/ensure-temporal-cli.ts
# Chromium for the browser tests (test/helpers/browser.ts): Debian's package, installed with apt-get as root.
CHROMIUM_PATH="$(bash scripts/ensure-chromium.sh)"
export CHROMIUM_PATH
npx tsc -p tsconfig.json --noEmit
npx tsc -p portal/tsconfig.json --noEmit
exec npx vitest run "$@"
