#!/bin/sh
# Example "training": writes WIDTH x N lines and a loss series to $WORKBENCH_METRICS.
set -eu
tasks=$1 width=$2 steps=$3 out=$4
: > "$out"
i=0
while [ "$i" -lt "$width" ]; do cat "$tasks" >> "$out"; i=$((i + 1)); done
step=1
while [ "$step" -le "$steps" ]; do
  echo "{\"name\": \"train/loss\", \"step\": $step, \"value\": $(( 100 / step ))}" >> "$WORKBENCH_METRICS"
  step=$((step + 1))
done
