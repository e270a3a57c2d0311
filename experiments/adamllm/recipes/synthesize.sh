#!/usr/bin/env bash
# Synthesis recipe of the paper profile: the upstream synthesis script (synthesizer, then the
# consistency filter, then the post-training file), data-parallel over the stage's GPUs.
#   synthesize.sh QA_DIR SYNTHESIZER CHECKER CAPTIONS_JSON IMAGE_DIR OUT
set -euo pipefail
qa=$1 synthesizer=$2 checker=$3 captions=$4 images=$5 out=$6
(cd "$qa/vllm_inference" && bash run_synthesis.sh "$synthesizer" "$checker" "$captions" "$images" "$out")
test -s "$out/image_caption_and_synthetic_task.json"
