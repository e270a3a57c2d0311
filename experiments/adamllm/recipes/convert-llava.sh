#!/usr/bin/env bash
# LLaVA-v1.6-8B's checkpoints in the layout vLLM loads: LLaVA's trainer (QA-Synthesizer's
# train_mem.py) saves model_type llava_llama, which vLLM has no class for, and the upstream
# inference prompts LLaVA as a LLaVA-NeXT model (<|reserved_special_token_4|> as the image token).
# python/workbench_convert/llava_next.py renames the weights and writes the LLaVA-NeXT
# configuration, image processor and tokenizer into OUT (conversion.json says what it did).
#   convert-llava.sh PYTHON CHECKPOINT VISION_MANIFEST OUT
# PYTHON: an interpreter with torch, safetensors and tokenizers (the vLLM environment's).
# CHECKPOINT: a trained model folder, or a fetch manifest (the base model, or an authors' released
# checkpoint at its pinned revision). A released checkpoint is already in the LLaVA-NeXT layout:
# its manifest is kept as OUT/manifest.json and evaluate.sh loads it from there.
# VISION_MANIFEST: the fetch-vision stage's manifest (the CLIP tower the model was trained with:
# its vision configuration and image processor, and its weights if the checkpoint lacks them).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
python=$1 checkpoint=$2 vision=$3 out=$4
[ -x "$python" ] || { echo "convert-llava.sh: $python is not an executable interpreter" >&2; exit 2; }
manifest=
if [ -f "$checkpoint" ]; then
  manifest=$checkpoint
  checkpoint=$("$WORKBENCH" fetch --from "$manifest" --quiet)
fi
[ -f "$checkpoint/config.json" ] || { echo "convert-llava.sh: $checkpoint has no config.json" >&2; exit 66; }
layout=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("model_type"))' "$checkpoint/config.json")
rm -rf "$out"
mkdir -p "$out"
if [ "$layout" = llava_next ]; then
  if [ -z "$manifest" ]; then
    echo "convert-llava.sh: $checkpoint is already in the LLaVA-NeXT layout; evaluate it directly" >&2
    exit 2
  fi
  cp "$manifest" "$out/manifest.json"
  echo "convert-llava.sh: $checkpoint is already in the LLaVA-NeXT layout (model_type llava_next): nothing converted; evaluate loads it from $out/manifest.json"
  exit 0
fi
tower=$("$WORKBENCH" fetch --from "$vision" --quiet)
PYTHONPATH="$repo/python" "$python" -m workbench_convert.llava_next --checkpoint "$checkpoint" --vision-tower "$tower" --out "$out"
