#!/usr/bin/env bash
# Post-training recipe of the paper profile: runs what the upstream docs run for the model's family
# (QA-Synthesizer docs/Post_Train.md), parameterized by the spec; never edited by hand.
#   train.sh FAMILY PIPELINE ABLATION DOMAIN DATA_JSON IMAGE_DIR OUT QA_DIR FACTORY_DIR BASE TEMPLATE BATCH ACCUM DEEPSPEED LR
# BASE is the fetch-model stage's manifest: the base model's snapshot at its pinned commit.
# FAMILY: llava | qwen2-vl | llama-3.2-vision. Only the single-stage, no-ablation recipe is
# implemented; the others stop with exit 2 and say so (they are planned, not yet runnable).
set -euo pipefail
family=$1 pipeline=$2 ablation=$3 domain=$4 data=$5 images=$6 out=$7 qa=$8 factory=$9
base=${10} template=${11} batch=${12} accum=${13} deepspeed=${14} lr=${15}
if [ "$pipeline" != single ] || [ "$ablation" != ours ]; then
  echo "train.sh: the $pipeline-stage pipeline with ablation '$ablation' has no recipe yet (the paper profile runs single-stage post-training without ablations)" >&2
  exit 2
fi
ngpus=$(python3 -c "import os; print(len([g for g in os.environ.get('CUDA_VISIBLE_DEVICES', '').split(',') if g]) or 8)")
case "$family" in
  llava)
    # The upstream script trains on 8 GPUs into ./exp/DOMAIN-LLaVA-v1.6-8B; it names its base model
    # itself (the catalog's hub id) and finds it in the cache the fetch-model stage filled, as
    # long as the pinned revision is what the hub calls main.
    (cd "$qa" && bash scripts/post_train_mllm.sh "$domain" "$data" "$images")
    mv "$qa/exp/$domain-LLaVA-v1.6-8B" "$out"
    ;;
  qwen2-vl|llama-3.2-vision)
    # The pinned snapshot's directory in the Hugging Face cache (fetched by the fetch-model stage).
    base=$("$WORKBENCH" fetch --from "$base" --quiet)
    # LLaMA-Factory reads dataset_info.json from the image folder (ShareGPT: messages + images).
    cp "$data" "$images/$domain.json"
    python3 - "$images/dataset_info.json" "$domain" <<'PY'
import json, sys
path, name = sys.argv[1], sys.argv[2]
info = {name: {"file_name": f"{name}.json", "formatting": "sharegpt",
               "columns": {"messages": "messages", "images": "images"},
               "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}}}
json.dump(info, open(path, "w"), indent=2)
PY
    (cd "$factory" && python3 -m torch.distributed.launch --nproc_per_node="$ngpus" src/train.py \
      --model_name_or_path "$base" --stage sft --do_train --finetuning_type full \
      --dataset "$domain" --dataset_dir "$images" --template "$template" \
      --deepspeed "$deepspeed" --per_device_train_batch_size "$batch" --gradient_accumulation_steps "$accum" \
      --learning_rate "$lr" --lr_scheduler_type cosine --warmup_ratio 0.1 --weight_decay 0.1 \
      --num_train_epochs 1 --cutoff_len 6144 --bf16 --save_steps 500 --save_total_limit 1 \
      --output_dir "$out")
    # vLLM loads the result with the base model's tokenizer and chat-template files.
    for f in "$base"/*token* "$base"/*chat_template* "$base"/preprocessor_config.json; do
      [ -e "$f" ] && cp -L "$f" "$out/"
    done
    ;;
  *) echo "train.sh: no recipe for model family '$family' (known: llava, qwen2-vl, llama-3.2-vision)" >&2; exit 2 ;;
esac
