#!/usr/bin/env bash
# Benchmarks: builds release binaries, then prints each measurement next to a floor measured in
# the same run (spawning /bin/true, parsing YAML only, row-at-a-time SQLite inserts, a trivial
# query), with the ratio and the target. Do not run it alongside a build or the ML stages.
#   usage: benchmarks/run.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
swift build -c release --product workbench >/dev/null
swift build -c release --product workbench-bench >/dev/null
exec .build/release/workbench-bench .build/release/workbench
