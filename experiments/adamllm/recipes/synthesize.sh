#!/usr/bin/env bash
# Synthesis recipe of the paper profile: what the upstream synthesis script (run_synthesis.sh) runs,
# the synthesizer and then the consistency filter (inference.py data-parallel over the stage's GPUs,
# recipes/shards.sh: every shard's exit checked, one triplet row per image-caption pair), each
# merged by merge_predictions.py (its third step, format_post_train_data.py, is post_train.py's
# below, through the same upstream functions); then
# OUT/train.json, the same rows through the same upstream formatting functions with each row's
# images kept (python/workbench_data/post_train.py: the upstream file has none, so LLaMA-Factory
# would find no image for the <image> token). Training takes OUT/train.json, and
# OUT/train_syn_only.json where it trains on the synthesized tasks without their caption turn
# (two-stage, "Synthetic Task Only"): written once here, not once per training.
#   synthesize.sh PYTHON QA_DIR SYNTHESIZER CHECKER CAPTIONS_JSON IMAGE_DIR OUT
# PYTHON: the vLLM environment's interpreter (the env-vllm stage's output).
# SYNTHESIZER, CHECKER: manifests of the fetch-synthesizer stage (the pinned snapshots), or model
# folders (tune-synthesizer's output).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
python=$1 qa=$2 synthesizer=$3 checker=$4 captions=$5 images=$6 out=$7
[ -x "$python" ] || { echo "synthesize.sh: $python is not an executable interpreter (the env-vllm stage's output)" >&2; exit 2; }
export PATH="$(dirname "$python"):$PATH"   # the upstream scripts call `python`: the environment's
recipe=synthesize.sh
. "$(dirname "${BASH_SOURCE[0]}")/shards.sh"
IFS=, read -ra gpus <<<"${CUDA_VISIBLE_DEVICES:-0}"   # unset: upstream's one GPU
[ -d "$synthesizer" ] || synthesizer=$("$WORKBENCH" fetch --from "$synthesizer" --quiet)
[ -d "$checker" ] || checker=$("$WORKBENCH" fetch --from "$checker" --quiet)
pairs=$("$python" -c 'import json, sys; print(len(json.load(open(sys.argv[1]))))' "$captions")
mkdir -p "$out"
(
  cd "$qa/vllm_inference"
  run_shards synthesizer "$out/syn_task_triplets" --model_weight_path "$synthesizer" --task syn_task_triplet \
    --data_path "$captions" --image_folder "$images" --model_type llava
  expect_rows "$out/syn_task_triplets.jsonl" "$pairs" synthesizer
  run_shards "consistency filter" "$out/filtered_task_pairs" --model_weight_path "$checker" --task consistency_filter \
    --data_path "$out/syn_task_triplets.jsonl" --image_folder "$images" --model_type llama
)
test -s "$out/filtered_task_pairs.jsonl" || { echo "synthesize.sh: the consistency filter kept nothing ($out/filtered_task_pairs.jsonl is empty)" >&2; exit 1; }
post_train() {
  PYTHONPATH="$repo/python" "$python" -m workbench_data.post_train --qa "$qa" --filtered "$out/filtered_task_pairs.jsonl" \
    --image-folder "$images" "$@"
}
post_train --out "$out/train.json"
post_train --out "$out/train_syn_only.json" --syn-only
