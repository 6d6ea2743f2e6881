#!/usr/bin/env bash
# Brings the project's own toolchain into place, then runs the given command with it.
#
# Why: the machine's Node is 20 (end of life) and Debian's nats-server is too old, so the
# project installs what it needs into .tools/ (git-ignored) from package registries:
#   - Node 24 LTS from the npm package `node`,
#   - npm dependencies from package-lock.json (npm ci, only when the lock file changed),
#   - nats-server at a pinned release with `go install`.
# Every step is idempotent and skipped when already done, so calling this before each
# command costs a few milliseconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_VERSION="24.21.0"
NATS_SERVER_VERSION="v2.15.2"
TOOLS="$ROOT/.tools"

say() { printf 'memmesh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is missing. $2"
}

ensure_node() {
  local bin="$TOOLS/node/node_modules/.bin/node"
  if [[ -x $bin ]] && [[ "$("$bin" --version)" == "v$NODE_VERSION" ]]; then return; fi
  need npm "Install Node.js with npm (any version >= 18, e.g. 'apt-get install nodejs npm'); memmesh then installs its own Node $NODE_VERSION."
  say "installing Node $NODE_VERSION into .tools/node (npm package node@$NODE_VERSION)"
  mkdir -p "$TOOLS/node"
  (cd "$TOOLS/node" && npm install --no-save --no-package-lock --loglevel=error --prefix . "node@$NODE_VERSION" >&2)
  [[ "$("$bin" --version)" == "v$NODE_VERSION" ]] || die "Node $NODE_VERSION did not install into .tools/node"
}

ensure_deps() {
  local stamp="$ROOT/node_modules/.memmesh-lock.sha256"
  local want
  want="$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)"
  if [[ -f $stamp ]] && [[ "$(cat "$stamp")" == "$want" ]]; then return; fi
  say "installing npm dependencies (npm ci)"
  # onnxruntime-node would otherwise download CUDA libraries in its postinstall.
  (cd "$ROOT" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --loglevel=error >&2)
  echo "$want" >"$stamp"
}

ensure_nats_server() {
  local bin="$TOOLS/bin/nats-server"
  if [[ -x $bin ]] && [[ "$("$bin" --version 2>/dev/null)" == "nats-server: $NATS_SERVER_VERSION" ]]; then return; fi
  need go "Go is needed once to build nats-server $NATS_SERVER_VERSION ('apt-get install golang-go', or Go from its official site)."
  say "installing nats-server $NATS_SERVER_VERSION into .tools/bin (go install, about a minute)"
  GOBIN="$TOOLS/bin" GOFLAGS=-mod=mod go install "github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION" >&2
  [[ "$("$bin" --version 2>/dev/null)" == "nats-server: $NATS_SERVER_VERSION" ]] || die "nats-server $NATS_SERVER_VERSION did not install into .tools/bin"
}

ensure_node
export PATH="$TOOLS/node/node_modules/.bin:$ROOT/node_modules/.bin:$TOOLS/bin:$PATH"
ensure_deps
ensure_nats_server
export MEMMESH_NATS_SERVER_BIN="$TOOLS/bin/nats-server"
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1

if [[ $# -gt 0 ]]; then exec "$@"; fi
