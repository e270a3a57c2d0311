#!/usr/bin/env bash
# Scoring throughput against the Python references (rouge 1.0.1; a plain Python choice parser) on
# the same generated inputs, single-threaded. Builds the release benchmark binary and a small
# virtual environment (.venv-bench, rouge from PyPI) on first use. Do not run it beside a build.
#   usage: benchmarks/scoring/run.sh [--recipes N] [--food101 N] [--json OUT]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
swift build -c release --product workbench-bench >/dev/null
if [ ! -x .venv-bench/bin/python ] || ! .venv-bench/bin/python -c "import rouge" 2>/dev/null; then
  python3 -m venv .venv-bench
  .venv-bench/bin/pip install --quiet "rouge==1.0.1"
fi
exec env OMP_NUM_THREADS=1 .venv-bench/bin/python benchmarks/scoring/bench_scoring.py \
  --bench-bin .build/release/workbench-bench "$@"
