#!/usr/bin/env bash
# Synthesis recipe of the paper profile: the upstream synthesis script (synthesizer, then the
# consistency filter, then its post-training file), data-parallel over the stage's GPUs; then
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
# Upstream run_synthesis.sh hands each process its GPU id as the shard index (inference.py splits the
# data into one shard per GPU and takes shard number --cuda_device), so GPUs other than 0..N-1
# (4,5,6,7, say) would ask for shards that do not exist and lose their rows: refused.
IFS=, read -ra gpus <<<"${CUDA_VISIBLE_DEVICES:-0}"
for i in "${!gpus[@]}"; do
  [ "${gpus[$i]}" = "$i" ] || { echo "synthesize.sh: CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES: upstream run_synthesis.sh needs GPUs 0..N-1 (it uses the GPU id as the shard index); give the stage whole nodes or renumbered devices" >&2; exit 2; }
done
[ -d "$synthesizer" ] || synthesizer=$("$WORKBENCH" fetch --from "$synthesizer" --quiet)
[ -d "$checker" ] || checker=$("$WORKBENCH" fetch --from "$checker" --quiet)
(cd "$qa/vllm_inference" && bash run_synthesis.sh "$synthesizer" "$checker" "$captions" "$images" "$out")
test -s "$out/filtered_task_pairs.jsonl"
post_train() {
  PYTHONPATH="$repo/python" "$python" -m workbench_data.post_train --qa "$qa" --filtered "$out/filtered_task_pairs.jsonl" \
    --image-folder "$images" "$@"
}
post_train --out "$out/train.json"
post_train --out "$out/train_syn_only.json" --syn-only
