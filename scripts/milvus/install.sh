#!/usr/bin/env bash
# Installs Milvus Lite, the gRPC test server for the Milvus VectorIndex, into a project-local
# virtualenv from the pinned scripts/milvus/requirements.txt, and prints the path of its
# `milvus-lite` binary on stdout (everything else goes to stderr).
#
# Layout: the environment is built in .tools/milvus-venv.<hash>, named after the hash of the
# requirements and the Python version, and .tools/milvus-venv is a symlink to the finished
# one. Why not build in a temporary directory and move it: a virtualenv is not relocatable
# (its scripts name their interpreter by absolute path), so it is built where it stays and
# published by swapping the symlink atomically, only after pip succeeded, `milvus-lite server
# --help` ran and the stamp was written. An interrupted install leaves a directory without a
# stamp, which the next run removes and builds again; a working older install stays in use
# until the new one is complete. Every run after a finished install costs a few milliseconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="$ROOT/.tools"
VENV="$TOOLS/milvus-venv"
REQUIREMENTS="$ROOT/scripts/milvus/requirements.txt"
STAMP_NAME=".memmesh-requirements"
# Milvus Lite 3.x declares Requires-Python >=3.10.
PYTHON_MINOR_MIN=10

say() { printf 'memmesh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[[ -f $REQUIREMENTS ]] || die "scripts/milvus/requirements.txt is missing: it pins milvus-lite and pymilvus."
command -v python3 >/dev/null 2>&1 \
  || die "python3 is missing: Milvus Lite needs Python 3.$PYTHON_MINOR_MIN or newer ('apt-get install python3 python3-venv')."
python_version="$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
[[ $python_version =~ ^3\.([0-9]+)$ ]] && ((BASH_REMATCH[1] >= PYTHON_MINOR_MIN)) \
  || die "Milvus Lite needs Python 3.$PYTHON_MINOR_MIN or newer, python3 is $python_version ('apt-get install python3 python3-venv')."

want="python $python_version requirements $(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
hash="$(printf '%s' "$want" | sha256sum | cut -c1-16)"
target="$TOOLS/milvus-venv.$hash"
if [[ -L $VENV ]] && [[ "$(readlink "$VENV")" == "milvus-venv.$hash" ]] \
  && [[ -f $target/$STAMP_NAME ]] && [[ "$(<"$target/$STAMP_NAME")" == "$want" ]] \
  && [[ -x $target/bin/milvus-lite ]]; then
  echo "$VENV/bin/milvus-lite"
  exit 0
fi

python3 -c 'import venv, ensurepip' 2>/dev/null \
  || die "python3 cannot create virtualenvs with pip: install Debian's python3-venv ('apt-get install python3-venv')."

say "installing Milvus Lite into .tools/milvus-venv (pip, pinned in scripts/milvus/requirements.txt; about a minute)"
mkdir -p "$TOOLS"
# Without a stamp this is what an interrupted run left behind: start it over.
if [[ ! -f $target/$STAMP_NAME ]] || [[ "$(<"$target/$STAMP_NAME")" != "$want" ]]; then
  rm -rf "$target"
  python3 -m venv "$target" >&2 \
    || { rm -rf "$target"; die "python3 -m venv failed (is python3-venv installed? 'apt-get install python3-venv')"; }
  "$target/bin/python" -m pip install --disable-pip-version-check --no-input --quiet \
    --requirement "$REQUIREMENTS" >&2 \
    || { rm -rf "$target"; die "pip could not install scripts/milvus/requirements.txt (see its output above)"; }
  "$target/bin/milvus-lite" server --help >/dev/null 2>&1 \
    || { rm -rf "$target"; die "Milvus Lite installed, but 'milvus-lite server --help' does not run"; }
  echo "$want" >"$target/$STAMP_NAME"
fi

# Publish: a new symlink renamed over the old name is atomic (rename(2)); a plain directory
# left by some other tool under that name is removed first.
[[ -e $VENV && ! -L $VENV ]] && rm -rf "$VENV"
ln -sfn "milvus-venv.$hash" "$VENV.link.$$"
mv -Tf "$VENV.link.$$" "$VENV"
# Older environments are unused from here on.
for old in "$TOOLS"/milvus-venv.*; do
  [[ $old == "$target" ]] || rm -rf "$old"
done
echo "$VENV/bin/milvus-lite"
