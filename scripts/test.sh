#!/usr/bin/env bash
# `npm test`: lint and type-check (through turbo), then every test suite against real
# servers. Runs inside scripts/toolchain.sh, so Node 24, the dependencies and nats-server
# are in place. Ends with a plain "tests: N passed, N failed" line.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "memmesh: lint and type-check"
turbo run lint typecheck --output-logs=errors-only --log-order=grouped

echo "memmesh: tests"
results="$(mktemp -d)/vitest.json"
status=0
vitest run --reporter=default --reporter=json --outputFile.json="$results" || status=$?
node -e '
  const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
' "$results" || true
exit "$status"
