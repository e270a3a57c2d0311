#!/usr/bin/env bash
# Evaluation recipe of the paper profile: the upstream inference script for one domain
# (QA-Synthesizer vllm_inference/run_inference.sh), then the native scorers on its predictions,
# cross-checked against the upstream results files.
#   evaluate.sh QA_DIR CHECKPOINT INFER_DOMAIN MODEL_TYPE OUT TASK...
# CHECKPOINT: a trained model directory, or a fetch manifest (the general model or a released
# checkpoint at its pinned revision), or a hub id (fetched unpinned, for a manual run).
set -euo pipefail
qa=$1 checkpoint=$2 domain=$3 model_type=$4 out=$5
shift 5
label=$checkpoint
if [ -f "$checkpoint" ]; then   # a fetch manifest: its pinned snapshot in the cache
  label=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["repo"] + "@" + m["commit"])' "$checkpoint")
  checkpoint=$("$WORKBENCH" fetch --from "$checkpoint" --quiet)
elif [ ! -d "$checkpoint" ]; then   # a hub id (unpinned): fetched now
  checkpoint=$("$WORKBENCH" fetch "$checkpoint" --quiet)
fi
mkdir -p "$out/predictions" "$out/results"
(cd "$qa/vllm_inference" && bash run_inference.sh "$checkpoint" "$domain" "$model_type" "$out/predictions" "$out/results")
for task in "$@"; do
  "$WORKBENCH" score --record --task "$task" --predictions "$out/predictions/$task.jsonl" \
    --results "$out/results/$task.txt" --label "$label" >/dev/null
done
"$WORKBENCH" score --record --domain-average-of "$@"
