#!/usr/bin/env bash
# The checks of the paper profile that only a GPU machine can make (issue 19), on tiny checkpoints
# built here from the real configurations (python/workbench_rehearsal/tiny_models.py), so they take
# minutes, not the paper's GPU hours:
#   vllm-FAMILY   vLLM (the env-vllm stage's interpreter, vllm 0.6.4.post1) loads each family's
#                 checkpoint as the upstream inference does (LLM(model=...)) and answers one image
#                 question in the family's prompt format: Qwen2-VL and Llama-3.2-Vision as
#                 LLaMA-Factory saves them, LLaVA as convert-llava writes it (the upstream image
#                 token <|reserved_special_token_4|>).
#   zero3-stage2  LLaVA's train_mem.py (the env-llava stage's interpreter, QA-Synthesizer's
#                 checkout) under the pinned ZeRO-3 config: stage 1 (projector alone), then stage 2
#                 from the base with that projector merged in (workbench_convert.llava_stage2), as
#                 train-llava.sh runs them; and, as the control, upstream's
#                 --pretrain_mm_mlp_adapter path, expected to fail with the size mismatch.
#   scripts/gpu-rehearsal.sh --vllm-python PY [--llava-python PY --qa DIR] [--work DIR]
# Without --llava-python the ZeRO-3 check is skipped (said so). Prints one PASS/FAIL/SKIP line per
# check and exits 1 if any failed. Needs a CUDA GPU; nothing is fetched (the tiny models are built
# locally), so it runs on a machine without network once the two environments exist (built by the
# env-vllm and env-llava stages of a paper run: .workbench/outputs/env-*/<fp>/env/bin/python).
# Never run yet: the GPU machines lent to this project's sessions have neither vLLM nor DeepSpeed,
# and their wheels are larger than what may be carried there.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { echo "gpu-rehearsal: $*" >&2; }
vllm_python= llava_python= qa= work="$repo/.workbench/gpu-rehearsal"
while [ $# -gt 0 ]; do
  case "$1" in
    --vllm-python | --llava-python | --qa | --work)
      [ $# -ge 2 ] || { say "$1 needs a value"; exit 64; }
      name=${1#--} name=${name//-/_}; printf -v "$name" '%s' "$2"; shift 2 ;;
    -h | --help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) say "unknown argument $1"; exit 64 ;;
  esac
done
[ -n "$vllm_python" ] && [ -x "$vllm_python" ] || { say "--vllm-python: the env-vllm stage's interpreter is required"; exit 64; }
if [ -n "$llava_python" ] && [ ! -d "$qa/llava/train" ]; then say "--qa: a QA-Synthesizer checkout is required with --llava-python"; exit 64; fi
"$vllm_python" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' \
  || { say "no CUDA GPU visible to $vllm_python"; exit 69; }
export PYTHONPATH="$repo/python" PYTHONHASHSEED=0 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1
rm -rf "$work"
mkdir -p "$work"
failed=0
result() { echo "$1 $2${3:+: $3}"; [ "$1" != FAIL ] || failed=1; }

# The tiny checkpoints, written by the transformers of the environment that loads them.
"$vllm_python" -m workbench_rehearsal.tiny_models --family qwen2-vl --out "$work/qwen2-vl" >&2
"$vllm_python" -m workbench_rehearsal.tiny_models --family mllama --out "$work/mllama" >&2
"$vllm_python" -m workbench_rehearsal.tiny_models --family llava --out "$work/llava-trained" --tower "$work/clip" >&2
"$vllm_python" -m workbench_convert.llava_next --checkpoint "$work/llava-trained" --vision-tower "$work/clip" \
  --out "$work/llava" >&2

# vLLM: one image question per family, the prompt as the upstream inference builds it.
for family in qwen2-vl mllama llava; do
  if "$vllm_python" - "$work/$family" "$family" >"$work/vllm-$family.log" 2>&1 <<'EOF'
import sys
from PIL import Image
from vllm import LLM, SamplingParams
path, family = sys.argv[1], sys.argv[2]
prompts = {
    "qwen2-vl": "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
                "<|vision_start|><|image_pad|><|vision_end|>What is shown?<|im_end|>\n<|im_start|>assistant\n",
    "mllama": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n<|image|>What is shown?<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\n",
    "llava": "<|start_header_id|>user<|end_header_id|>\n\n<|reserved_special_token_4|>\nWhat is shown?<|eot_id|>"
             "<|start_header_id|>assistant<|end_header_id|>\n\n",
}
extra = {"mllama": dict(dtype="bfloat16", enforce_eager=True, max_num_seqs=2)}.get(family, {})
llm = LLM(model=path, max_model_len=2048, gpu_memory_utilization=0.3, **extra)
image = Image.new("RGB", (56, 56), (120, 40, 200))
out = llm.generate([{"prompt": prompts[family], "multi_modal_data": {"image": image}}],
                   SamplingParams(max_tokens=8, temperature=0))
ids = out[0].outputs[0].token_ids
print("answer token ids:", list(ids))
sys.exit(0 if len(ids) > 0 else 1)
EOF
  then result PASS "vllm-$family" "$(tail -1 "$work/vllm-$family.log")"
  else result FAIL "vllm-$family" "see $work/vllm-$family.log (last: $(tail -1 "$work/vllm-$family.log"))"
  fi
done

# ZeRO-3 stage 2, as train-llava.sh runs it, on one GPU.
if [ -z "$llava_python" ]; then
  result SKIP zero3-stage2 "no --llava-python (the env-llava stage's interpreter)"
else
  data="$work/llava-data"
  mkdir -p "$data/images"
  "$llava_python" -c 'from PIL import Image; Image.new("RGB", (56, 28), (10, 200, 30)).save("'"$data"'/images/d.jpg")'
  row='{"images": ["d.jpg"], "messages": [{"role": "user", "content": "<image>What is shown?"}, {"role": "assistant", "content": "A leaf."}]}'
  printf '[%s, %s]\n' "$row" "$row" >"$data/train.json"
  launch() {   # launch OUT LOG ARGS...: train_mem.py under the pinned ZeRO-3 config, one step
    local out=$1 log=$2
    shift 2
    (cd "$qa" && "$llava_python" -m torch.distributed.launch --use_env --nproc_per_node=1 llava/train/train_mem.py \
      --deepspeed ./scripts/zero3.json --version llava_llama_3 --data_path "$data/train.json" --image_folder "$data/images" \
      --vision_tower "$work/clip" --mm_projector_type mlp2x_gelu --image_aspect_ratio anyres --mm_vision_select_layer -2 \
      --mm_vision_select_feature patch --mm_patch_merge_type spatial_unpad --mm_use_im_start_end False \
      --mm_use_im_patch_token False --bf16 True --max_steps 1 --per_device_train_batch_size 1 \
      --gradient_accumulation_steps 1 --model_max_length 512 --lazy_preprocess True --dataloader_num_workers 0 \
      --save_strategy no --report_to none --output_dir "$out" "$@") >"$log" 2>&1
  }
  stage1="$work/zero3/stage1" stage2="$work/zero3/stage2"
  if ! launch "$stage1" "$work/zero3-stage1.log" --model_name_or_path "$work/llava-trained" --tune_mm_mlp_adapter True \
      --learning_rate 2e-3 || [ ! -f "$stage1/mm_projector.bin" ]; then
    result FAIL zero3-stage2 "stage 1 failed or saved no mm_projector.bin: $work/zero3-stage1.log"
  else
    "$vllm_python" -m workbench_convert.llava_stage2 --base "$work/llava-trained" --projector "$stage1/mm_projector.bin" \
      --out "$work/zero3/start" >&2
    if launch "$stage2" "$work/zero3-stage2.log" --model_name_or_path "$work/zero3/start" --unfreeze_mm_vision_tower True \
        --mm_vision_tower_lr 2e-6 --learning_rate 2e-5; then
      result PASS zero3-stage2 "stage 2 trained from the merged folder under ZeRO-3"
    else
      result FAIL zero3-stage2 "stage 2 from the merged folder failed: $work/zero3-stage2.log"
    fi
    # The control: upstream's way, which the recipe no longer takes.
    if launch "$work/zero3/control" "$work/zero3-control.log" --model_name_or_path "$work/llava-trained" \
        --pretrain_mm_mlp_adapter "$stage1/mm_projector.bin" --learning_rate 2e-5; then
      result INFO zero3-control "--pretrain_mm_mlp_adapter under ZeRO-3 worked here: the merge was not needed"
    else
      result INFO zero3-control "--pretrain_mm_mlp_adapter under ZeRO-3 failed ($(grep -m1 -o 'size mismatch.*' "$work/zero3-control.log" || tail -1 "$work/zero3-control.log"))"
    fi
  fi
fi
exit $failed
