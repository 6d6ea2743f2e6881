#!/usr/bin/env bash
# `npm test`: lint and type-check (through turbo), then every test suite against real
# servers. Runs inside scripts/toolchain.sh, so Node 24, the dependencies and nats-server
# are in place. Ends with a plain "tests: N passed, N failed" line.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "memmesh: lint and type-check"
turbo run lint typecheck --output-logs=errors-only --log-order=grouped

echo "memmesh: tests"
results="$(mktemp -d)"
status=0
# Everything but the *.alone.test.ts suites, two files at a time.
vitest run --exclude '**/*.alone.test.ts' --reporter=default --reporter=json \
  --outputFile.json="$results/shared.json" || status=$?
# Then those alone, one file at a time: they measure latency (fair use under a flood they
# make themselves, the cross-tenant timing probe) or hold Milvus Lite to seconds (expiry with
# TTLs of one and two seconds; a kill -9 on Milvus and Redis, then every document searched),
# which other suites beside them would distort: beside another Milvus suite on two cores, a
# Milvus search during the expiry sweep answered fewer live hits than it held (see README).
echo "memmesh: tests that measure latency or time Milvus, alone"
vitest run --maxWorkers=1 .alone.test.ts --reporter=default --reporter=json \
  --outputFile.json="$results/alone.json" || status=$?
node -e '
  const fs = require("node:fs");
  let passed = 0, failed = 0;
  for (const file of process.argv.slice(1)) {
    if (!fs.existsSync(file)) { failed++; continue; }
    const r = JSON.parse(fs.readFileSync(file, "utf8"));
    passed += r.numPassedTests;
    failed += r.numFailedTests;
  }
  console.log(`tests: ${passed} passed, ${failed} failed`);
' "$results/shared.json" "$results/alone.json" || true
exit "$status"
