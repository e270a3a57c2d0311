#!/usr/bin/env bash
# Table 5's "General CoT Task" data: the seed tasks (fetch-seed's triplets.jsonl: a question with
# its precise and informative answers per image, written as the synthesizer writes them) judged
# by the consistency checker with upstream vllm_inference/inference.py --task consistency_filter,
# one process per GPU of the stage, merged by upstream merge_predictions.py, as step 2 of
# run_synthesis.sh does (each process's shard index is its position in CUDA_VISIBLE_DEVICES, so
# any set of GPUs works, and a failing shard fails the stage); then OUT/train.json: the kept tasks
# in the same chain-of-thought format as the synthesized ones, without a caption turn
# (python/workbench_data/post_train.py --syn-only), images in OUT/images.
#   filter-seed.sh PYTHON QA_DIR CHECKER SEED_DIR OUT
# PYTHON: the vLLM environment's interpreter (the env-vllm stage's output).
# CHECKER: the fetch-synthesizer stage's checker manifest (or a model folder).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
python=$1 qa=$2 checker=$3 seed=$4 out=$5
[ -x "$python" ] || { echo "filter-seed.sh: $python is not an executable interpreter (the env-vllm stage's output)" >&2; exit 2; }
export PATH="$(dirname "$python"):$PATH"   # the upstream scripts call `python`: the environment's
[ -d "$checker" ] || checker=$("$WORKBENCH" fetch --from "$checker" --quiet)
[ -s "$seed/triplets.jsonl" ] || { echo "filter-seed.sh: no $seed/triplets.jsonl (the fetch-seed stage writes it)" >&2; exit 66; }
recipe=filter-seed.sh
. "$(dirname "${BASH_SOURCE[0]}")/shards.sh"
IFS=, read -ra gpus <<<"${CUDA_VISIBLE_DEVICES:-0,1,2,3,4,5,6,7}"
mkdir -p "$out"
ln -sfn "$(readlink -f "$seed/images")" "$out/images"
(
  cd "$qa/vllm_inference"
  run_shards "consistency filter" "$out/filtered_task_pairs" --model_weight_path "$checker" --task consistency_filter \
    --data_path "$seed/triplets.jsonl" --image_folder "$seed/images" --model_type llama
)
[ -s "$out/filtered_task_pairs.jsonl" ] || { echo "filter-seed.sh: merge_predictions.py wrote no $out/filtered_task_pairs.jsonl" >&2; exit 1; }
PYTHONPATH="$repo/python" "$python" -m workbench_data.post_train --qa "$qa" --filtered "$out/filtered_task_pairs.jsonl" \
  --image-folder "$out/images" --out "$out/train.json" --syn-only
