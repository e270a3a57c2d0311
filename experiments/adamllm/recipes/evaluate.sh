#!/usr/bin/env bash
# Evaluation recipe of the paper profile: the upstream inference script for one domain
# (QA-Synthesizer vllm_inference/run_inference.sh), then the native scorers on its predictions,
# cross-checked against the upstream results files.
#   evaluate.sh QA_DIR CHECKPOINT INFER_DOMAIN MODEL_TYPE OUT TASK...
set -euo pipefail
qa=$1 checkpoint=$2 domain=$3 model_type=$4 out=$5
shift 5
mkdir -p "$out/predictions" "$out/results"
(cd "$qa/vllm_inference" && bash run_inference.sh "$checkpoint" "$domain" "$model_type" "$out/predictions" "$out/results")
for task in "$@"; do
  "$WORKBENCH" score --record --task "$task" --predictions "$out/predictions/$task.jsonl" \
    --results "$out/results/$task.txt" --label "$checkpoint" >/dev/null
done
"$WORKBENCH" score --record --domain-average-of "$@"
