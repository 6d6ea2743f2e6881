#!/usr/bin/env bash
# `npm test`: lint and type-check (through turbo), then every test suite against real
# servers. Runs inside scripts/toolchain.sh, so Node 24, the dependencies and nats-server
# are in place.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "memmesh: lint and type-check"
turbo run lint typecheck --output-logs=errors-only --log-order=grouped

echo "memmesh: tests"
vitest run --reporter=default
