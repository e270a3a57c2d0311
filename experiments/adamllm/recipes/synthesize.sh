#!/usr/bin/env bash
# Synthesis recipe of the paper profile: the upstream synthesis script (synthesizer, then the
# consistency filter, then its post-training file), data-parallel over the stage's GPUs; then
# OUT/train.json, the same rows through the same upstream formatting functions with each row's
# images kept (python/workbench_data/post_train.py: the upstream file has none, so LLaMA-Factory
# would find no image for the <image> token). Training takes OUT/train.json.
#   synthesize.sh QA_DIR SYNTHESIZER CHECKER CAPTIONS_JSON IMAGE_DIR OUT
# SYNTHESIZER, CHECKER: manifests of the fetch-synthesizer stage (the pinned snapshots), or model
# folders (tune-synthesizer's output).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
qa=$1 synthesizer=$2 checker=$3 captions=$4 images=$5 out=$6
[ -d "$synthesizer" ] || synthesizer=$("$WORKBENCH" fetch --from "$synthesizer" --quiet)
[ -d "$checker" ] || checker=$("$WORKBENCH" fetch --from "$checker" --quiet)
(cd "$qa/vllm_inference" && bash run_synthesis.sh "$synthesizer" "$checker" "$captions" "$images" "$out")
test -s "$out/image_caption_and_synthetic_task.json"
PYTHONPATH="$repo/python" python3 -m workbench_data.post_train --qa "$qa" --filtered "$out/filtered_task_pairs.jsonl" \
  --image-folder "$images" --out "$out/train.json"
