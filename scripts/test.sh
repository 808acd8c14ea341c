#!/usr/bin/env bash
# The whole test suite: set-up, lint and format check, type checks, then every package's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== lint and format (biome)"
pnpm exec biome check .
echo "== type check (tsc --noEmit)"
pnpm -r run typecheck
echo "== tests (vitest)"
status=0
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json=test-results.json "$@" || status=$?
# A plain closing line that any CI reader understands.
node -e '
  const r = JSON.parse(require("fs").readFileSync("test-results.json", "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' || true
exit "$status"
