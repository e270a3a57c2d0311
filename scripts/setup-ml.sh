#!/usr/bin/env bash
# Create the Python venv for the CPU smoke chain (python/workbench_smoke).
#   usage: scripts/setup-ml.sh [VENV_DIR]      (default: .venv-ml in the repository root)
# Reproducible: python3.11, torch==2.13.0+cpu from a local wheel directory, everything else
# pinned in python/requirements.txt. Idempotent: a stamp file in the venv records the sha256 of
# requirements.txt + constraints.txt; when it matches, nothing is done.
# Environment: WHEEL_DIR (default /opt/wheels), PYTHON (default python3.11).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-$repo_root/.venv-ml}"
wheel_dir="${WHEEL_DIR:-/opt/wheels}"
python_bin="${PYTHON:-python3.11}"
req="$repo_root/python/requirements.txt"
constraints="$repo_root/python/constraints.txt"
torch_pin="torch==2.13.0+cpu"
stamp="$venv/.workbench-setup-stamp"

say() { echo "setup-ml: $*"; }
die() { echo "setup-ml: error: $*" >&2; exit 1; }

command -v "$python_bin" >/dev/null 2>&1 \
  || die "$python_bin not found; the CPU torch wheel is cp311-only, install Python 3.11 (Debian 12: apt-get install python3 python3-venv)"
"$python_bin" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null \
  || die "$python_bin is not Python 3.11 (the torch wheel in $wheel_dir is cp311)"
[ -f "$req" ] || die "missing $req"
[ -f "$constraints" ] || die "missing $constraints"

digest="$(cat "$req" "$constraints" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ] && [ -x "$venv/bin/python" ]; then
  say "up to date: $venv (requirements sha256 $digest)"
  exit 0
fi

shopt -s nullglob
wheels=("$wheel_dir"/torch-2.13.0+cpu-cp311-*.whl)
shopt -u nullglob
[ "${#wheels[@]}" -gt 0 ] \
  || die "no CPU torch wheel (torch-2.13.0+cpu-cp311-*.whl) in $wheel_dir; set WHEEL_DIR to a directory holding it. PyPI has no +cpu torch and its default torch pulls ~2.8 GB of CUDA wheels, so this script will not fall back to it."

if [ ! -x "$venv/bin/python" ]; then
  say "creating venv $venv with $("$python_bin" --version 2>&1)"
  "$python_bin" -m venv "$venv" \
    || die "'$python_bin -m venv' failed; on Debian/Ubuntu install the venv module: apt-get install python3.11-venv (or python3-venv)"
else
  say "reusing venv $venv (requirements changed or stamp missing)"
fi
rm -f "$stamp"
pip=("$venv/bin/python" -m pip --disable-pip-version-check --no-input)

say "installing $torch_pin from $wheel_dir"
# torch's own dependencies (sympy, networkx, jinja2, fsspec, filelock, ...) come from the index,
# pinned by requirements.txt in the next step.
"${pip[@]}" install --quiet --find-links "$wheel_dir" -c "$constraints" "$torch_pin"
say "installing python/requirements.txt (constrained by python/constraints.txt)"
"${pip[@]}" install --quiet --find-links "$wheel_dir" -c "$constraints" -r "$req"
"$venv/bin/python" -c 'import torch, transformers; print("setup-ml: torch", torch.__version__, "transformers", transformers.__version__)'
echo "$digest" > "$stamp"
say "done: $venv"
