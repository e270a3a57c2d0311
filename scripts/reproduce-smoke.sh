#!/usr/bin/env bash
# The main job, from a fresh Debian machine: system packages, the workbench binary, the pinned
# Python environment, then `workbench reproduce smoke` (the real synthesis -> filter -> train ->
# eval chain on CPU, recorded in .workbench/workbench.sqlite, tables in .workbench/reports/).
#   usage: scripts/reproduce-smoke.sh [extra workbench reproduce options]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
t0=$(date +%s)
scripts/bootstrap.sh
swift build --product workbench 2>&1 | tail -n 1
t1=$(date +%s)
scripts/setup-ml.sh
t2=$(date +%s)
.build/debug/workbench reproduce smoke "$@"
t3=$(date +%s)
echo "reproduce-smoke: build $((t1 - t0)) s, python environment $((t2 - t1)) s, reproduction $((t3 - t2)) s, total $((t3 - t0)) s" >&2
echo "reproduce-smoke: browse the record with .build/debug/workbench ui (http://127.0.0.1:8765/; README: workbench ui)" >&2
