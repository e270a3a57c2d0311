#!/usr/bin/env bash
# Post-training of Qwen2-VL and Llama-3.2-Vision with LLaMA-Factory, as QA-Synthesizer's
# docs/Post_Train.md runs it: one src/train.py launch per training stage (full tuning, the docs'
# flags, the catalog's hyperparameters), each from the previous stage's output; then the base's
# tokenizer and chat-template files beside the model, which vLLM loads with it. It runs in the
# LLaMA-Factory environment (--python, the env-llama-factory stage's interpreter) with the checkout's
# own src/ first on PYTHONPATH (the docs' `pip install -e .`).
#   train-llama-factory.sh --python PY --factory DIR --base MANIFEST --template T --batch N --accumulation N
#       --deepspeed JSON|none --precision bf16|fp32 --processes gpus|N --lr LR --images DIR
#       --dataset-name NAME --freeze-vision-tower true|false --freeze-projector true|false
#       --out DIR --stage FILE [--stage FILE]
# The freeze flags are passed to LLaMA-Factory as they are given (its own defaults freeze both the
# vision tower and the multi-modal projector, even in full tuning): the catalog decides.
# --deepspeed none and --precision fp32 are the CPU rehearsal's (no DeepSpeed, no bf16 on a CPU).
# LLaMA-Factory reads dataset_info.json and the datasets from --dataset_dir and the images from
# --media_dir. The docs copy dataset_info.json into the image folder; here each stage writes its
# own beside its output (OUT-inputs/), because the image folder is shared by every stage training
# on the source (fetch-data extracts it once).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/train-common.sh" train-llama-factory.sh \
  "python factory base template batch accumulation deepspeed precision processes lr images dataset_name freeze_vision_tower freeze_projector out" "$@"
launch=()
[ "$deepspeed" = none ] || launch+=(--deepspeed "$deepspeed")
case "$precision" in
  bf16) launch+=(--bf16) ;;
  fp32) ;;
  *) refuse "--precision $precision: bf16 or fp32" ;;
esac
for flag in freeze_vision_tower freeze_projector; do
  case "${!flag}" in true | false) ;; *) refuse "--${flag//_/-} ${!flag}: true or false" ;; esac
done
launch+=(--freeze_vision_tower "$freeze_vision_tower" --freeze_multi_modal_projector "$freeze_projector")
export PYTHONPATH="$factory/src${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$out-inputs"
model=$base
for n in $(seq 1 ${#stages[@]}); do
  name="$dataset_name-stage$n" target=$(stage_output "$n")
  if stage_done "$n"; then
    echo "train-llama-factory.sh: training stage $n finished in an earlier attempt ($target.done): skipped" >&2
    model=$target
    continue
  fi
  cp "${stages[$((n - 1))]}" "$out-inputs/$name.json"
  "$python" - "$out-inputs/dataset_info.json" "$name" <<'PY'
import json, os, sys
path, name = sys.argv[1], sys.argv[2]
info = json.load(open(path)) if os.path.exists(path) else {}
info[name] = {"file_name": f"{name}.json", "formatting": "sharegpt",
              "columns": {"messages": "messages", "images": "images"},
              "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}}
json.dump(info, open(path, "w"), indent=2)
PY
  # --use_env as the docs pass it: without it the launcher adds --local-rank=N to train.py's
  # arguments, which LLaMA-Factory refuses under the transformers 4.45 its requirements allow.
  (cd "$factory" && "$python" -m torch.distributed.launch --use_env --nproc_per_node="$ngpus" src/train.py \
    --model_name_or_path "$model" --stage sft --do_train --finetuning_type full \
    --dataset "$name" --dataset_dir "$out-inputs" --media_dir "$images" --template "$template" \
    "${launch[@]}" --per_device_train_batch_size "$batch" --gradient_accumulation_steps "$accumulation" \
    --learning_rate "$lr" --lr_scheduler_type cosine --warmup_ratio 0.1 --weight_decay 0.1 \
    --num_train_epochs 1 --cutoff_len 6144 --save_steps 500 --save_total_limit 1 \
    --overwrite_cache --ddp_timeout 180000000 --logging_steps 10 --report_to none --preprocessing_num_workers 32 \
    --output_dir "$target")
  mark_done "$n"
  model=$target
done
for f in "$base"/*token* "$base"/*chat_template* "$base"/merges.txt "$base"/vocab.json "$base"/preprocessor_config.json; do
  if [ -e "$f" ]; then cp -L "$f" "$out/"; fi
done
