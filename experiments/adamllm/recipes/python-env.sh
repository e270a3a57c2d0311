#!/usr/bin/env bash
# An upstream program's Python environment, built from its hash-pinned lock (environments/NAME.txt,
# made by environments/lock.sh): a fresh venv of the lock's Python (`# python: X.Y`), every package
# installed with `pip install --require-hashes --no-deps` (a package or file the lock does not name,
# or one whose SHA-256 differs, stops the build), then the lock's source-built extras without build
# isolation (`# no-build-isolation:` lines, e.g. flash-attn, against the environment's own torch).
# FREEZE receives `pip freeze --all` (also printed, so the attempt's log records it).
#   python-env.sh LOCK PYTHON FREEZE [SITE]
# PYTHON: the interpreter path to create (ENV/bin/python; ENV is made anew). SITE: a module
# installed into the environment and imported at start-up (the CPU rehearsal's cpu-site.py).
# Environment: PYTHON_X_Y (e.g. PYTHON_3_10) names the base interpreter where python3.10 is not on
# PATH; WHEEL_DIR (default /opt/wheels) holds wheels no index serves (the CPU torch).
set -euo pipefail
lock=$1 python=$2 freeze=$3 site=${4:-}
[ -f "$lock" ] || { echo "python-env.sh: no lock file $lock" >&2; exit 2; }
case "$python" in */bin/python) ;; *) echo "python-env.sh: PYTHON must end in /bin/python (got $python)" >&2; exit 2 ;; esac
env_dir=${python%/bin/python}
version=$(sed -n 's/^# python: *//p' "$lock" | head -1)
[ -n "$version" ] || { echo "python-env.sh: $lock has no '# python: X.Y' line (made by environments/lock.sh?)" >&2; exit 2; }
var="PYTHON_${version//./_}"
base=${!var:-python$version}
command -v "$base" >/dev/null 2>&1 || {
  echo "python-env.sh: $lock needs Python $version: $base is not on PATH (install it, or set $var to its path)" >&2; exit 69; }
"$base" -c "import sys; assert sys.version_info[:2] == tuple(map(int, '$version'.split('.')))" \
  || { echo "python-env.sh: $base is not Python $version" >&2; exit 69; }
rm -rf "$env_dir"
"$base" -m venv "$env_dir"
pip=("$env_dir/bin/python" -m pip --disable-pip-version-check --no-input)
links=()
if [ -d "${WHEEL_DIR:-/opt/wheels}" ]; then links=(--find-links "${WHEEL_DIR:-/opt/wheels}"); fi
echo "python-env.sh: installing $(grep -c '^[A-Za-z0-9]' "$lock") packages from $lock (sha256 $(sha256sum "$lock" | cut -d' ' -f1))"
"${pip[@]}" install --quiet --require-hashes --no-deps "${links[@]}" -r "$lock"
extras=$(sed -n 's/^# no-build-isolation: *//p' "$lock")
if [ -n "$extras" ]; then
  printf '%s\n' "$extras" >"$env_dir/no-build-isolation.txt"
  "${pip[@]}" install --quiet --require-hashes --no-deps --no-build-isolation -r "$env_dir/no-build-isolation.txt"
fi
if [ -n "$site" ]; then
  packages=$("$env_dir/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  cp "$site" "$packages/workbench_cpu_site.py"
  echo "import workbench_cpu_site" >"$packages/workbench_cpu_site.pth"
  echo "python-env.sh: start-up module $site installed (a rehearsal-only difference)"
fi
"${pip[@]}" freeze --all >"$freeze.tmp"
mv "$freeze.tmp" "$freeze"
echo "python-env.sh: $("$python" --version) at $env_dir; pip freeze:"
cat "$freeze"
