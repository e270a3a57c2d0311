#!/usr/bin/env bash
# Post-training recipe of the paper profile: runs what the upstream docs run for the model's family
# (QA-Synthesizer docs/Post_Train.md), parameterized by the spec; never edited by hand.
#   train.sh FAMILY PIPELINE ABLATION DOMAIN DATA_JSON IMAGE_DIR OUT QA_DIR FACTORY_DIR BASE TEMPLATE BATCH ACCUM DEEPSPEED LR CAPTIONS_JSON [VISION]
# BASE is the fetch-model stage's manifest: the base model's snapshot at its pinned commit.
# FAMILY: llava | qwen2-vl | llama-3.2-vision. CAPTIONS_JSON: the image-caption pairs of the
# source's images (ShareGPT, the synthesizer's input). VISION (LLaVA): the fetch-vision stage's
# manifest, the vision tower at its pinned commit; "-" for the other families.
#
# What each (pipeline, ablation) trains on:
#   single, ours          DATA_JSON (captions and synthetic tasks in one stage; a baseline's instructions)
#   single, caption-only  CAPTIONS_JSON ("Image Caption Only")
#   single, synthetic-only the synthesized tasks without the caption task ("Synthetic Task Only":
#                         the synthesis output's train_syn_only.json)
#   single, no-filter-precise / no-filter-informative  every collected question of the synthesis,
#                         whatever the consistency checker said, answered with its precise (or
#                         informative) response alone, with the caption tasks ("w/o Consistency Filter")
#   two, ours             stage 1 on CAPTIONS_JSON, stage 2 on the tasks only (train_syn_only.json;
#                         a baseline's instructions)
# The no-filter variants are written here from the synthesis output's filtered_task_pairs.jsonl by
# python/workbench_data/post_train.py through the upstream formatting functions (upstream
# format_post_train_data.py drops each row's images; see that module).
#   two, two-stage-reuse-caption  stage 1 on CAPTIONS_JSON, stage 2 on DATA_JSON (captions reused)
#   single, no-blank-image  DATA_JSON: synthesized by the synthesizer tuned without blank images
#   single, general-tasks   DATA_JSON: the seed data's own tasks kept by the consistency filter
#                         (filter-seed; IMAGE_DIR its images)
#   single, general-tasks-caption  those general tasks and the domain's CAPTIONS_JSON (images in
#                         IMAGE_DIR), mixed into one file whose rows name their images by absolute
#                         paths (the two sets of images live in two folders)
# LLaVA's loader asserts each row's shape (one image, <image> first, user/assistant turns); the
# training files are checked for it before any GPU loads (python/workbench_data/rows.py).
# Two-stage (the paper describes it, Table 10; the upstream release has no script for it): the
# caption stage of LLaVA trains the projector alone at lr 2e-3 (LLaVA's own first stage; train_mem.py
# then saves only OUT-stage1/mm_projector.bin), and the second stage starts from the base model with
# that projector (--pretrain_mm_mlp_adapter) and the full settings. Qwen2-VL and Llama-3.2 train
# the full model in both stages with the same settings (judgment call: the paper gives no other),
# the second from the first one's output.
# LLaVA: upstream scripts/post_train_mllm.sh names its base model (a hub id, resolved to whatever
# the hub calls main), its vision tower (a folder, /openai/clip-vit-large-patch14-336), 8 GPUs
# and its output folder itself, so it can neither be pinned nor start a second stage; this
# recipe launches the program it launches, upstream llava/train/train_mem.py, with its settings
# and the pinned base (a second stage: with stage 1's projector), tower, data, GPUs and output
# instead. What the ablations train on is made by their own stages (filter-seed, tune-synthesizer,
# synthesize-tuned) and reaches this recipe as DATA_JSON and IMAGE_DIR.
set -euo pipefail
family=$1 pipeline=$2 ablation=$3 domain=$4 data=$5 images=$6 out=$7 qa=$8 factory=$9
base=${10} template=${11} batch=${12} accum=${13} deepspeed=${14} lr=${15} captions=${16:-} vision=${17:--}
refuse() { echo "train.sh: $*" >&2; exit 2; }
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"

# The synthesis output DATA_JSON lies in: its tasks without caption turns (synthesize.sh writes
# them once), and the variants written here (beside the stage's model directory, in
# OUT-inputs/NAME.json; prints its path).
filtered="$(dirname "$data")/filtered_task_pairs.jsonl"
syn_only="$(dirname "$data")/train_syn_only.json"
variant() {  # variant NAME POST_TRAIN_ARGS...  (runs in $(...): set -e does not reach in, so each failure exits)
  [ -f "$filtered" ] || refuse "$pipeline-stage/$ablation needs the synthesis output's filtered_task_pairs.jsonl next to $data (the source's data is not synthesized)"
  mkdir -p "$out-inputs" || exit $?
  PYTHONPATH="$repo/python" python3 -m workbench_data.post_train --qa "$qa" --filtered "$filtered" \
    --image-folder "$images" --out "$out-inputs/$1.json" "${@:2}" >&2 || exit $?
  echo "$out-inputs/$1.json"
}

# Stages: the dataset JSON of each training stage, in order.
stages=()
case "$pipeline/$ablation" in
  single/ours) stages=("$data") ;;
  single/caption-only) stages=("$captions") ;;
  single/synthetic-only)
    [ -f "$syn_only" ] || refuse "single-stage/synthetic-only needs the synthesis output's train_syn_only.json next to $data (the source's data is not synthesized)"
    stages=("$syn_only") ;;
  single/no-filter-precise) stages=("$(variant no_filter_precise --answers precise)") ;;
  single/no-filter-informative) stages=("$(variant no_filter_informative --answers informative)") ;;
  two/ours)
    if [ -f "$syn_only" ]; then stages=("$captions" "$syn_only"); else stages=("$captions" "$data"); fi ;;   # ours; a baseline
  two/two-stage-reuse-caption) stages=("$captions" "$data") ;;
  single/no-blank-image | single/general-tasks) stages=("$data") ;;
  single/general-tasks-caption)
    [ -n "$captions" ] && [ "$captions" != - ] || refuse "general-tasks-caption needs the domain's image-caption pairs (catalog 'train_captions')"
    mkdir -p "$out-inputs"
    PYTHONPATH="$repo/python" python3 -m workbench_data.rows mix --out "$out-inputs/general_tasks_caption.json" \
      "$data" "$(dirname "$data")/images" "$captions" "$images" >&2
    stages=("$out-inputs/general_tasks_caption.json") ;;
  *) refuse "the $pipeline-stage pipeline with ablation '$ablation' has no recipe (the paper trains its ablations single-stage, but for two-stage-reuse-caption)" ;;
esac
for s in "${stages[@]}"; do
  [ -n "$s" ] && [ "$s" != - ] || refuse "no image-caption pairs for this source (catalog 'captions'); $pipeline-stage/$ablation trains on them"
done

case "$family" in
  llava | qwen2-vl | llama-3.2-vision) ;;
  *) refuse "no recipe for model family '$family' (known: llava, qwen2-vl, llama-3.2-vision)" ;;
esac
IFS=, read -ra gpus <<<"${CUDA_VISIBLE_DEVICES:-0,1,2,3,4,5,6,7}"   # unset: the upstream scripts' 8
ngpus=${#gpus[@]}
# Where training stage N writes: the last one the stage's output, earlier ones beside it.
stage_output() { if [ "$1" -lt ${#stages[@]} ]; then echo "$out-stage$1"; else echo "$out"; fi; }
# The pinned base snapshot's directory in the Hugging Face cache (fetched by the fetch-model stage).
base=$("$WORKBENCH" fetch --from "$base" --quiet)
model=$base n=0
case "$family" in
  llava)
    [ "$vision" != - ] || refuse "LLaVA needs its vision tower (catalog 'vision': the fetch-vision stage's manifest)"
    tower=$("$WORKBENCH" fetch --from "$vision" --quiet)
    PYTHONPATH="$repo/python" python3 -m workbench_data.rows check-llava "${stages[@]}" >&2
    adapter=()
    for dataset in "${stages[@]}"; do
      n=$((n + 1))
      target=$(stage_output $n)
      # post_train_mllm.sh's settings at the pinned commit (= the paper's Table 10), with the
      # catalog's batch, accumulation, ZeRO config and learning rate; a caption stage before
      # another trains the projector alone (see the header).
      if [ "$n" -lt ${#stages[@]} ]; then
        tune=(--tune_mm_mlp_adapter True) stage_lr=2e-3
      else
        tune=(--unfreeze_mm_vision_tower True --mm_vision_tower_lr 2e-6) stage_lr=$lr
      fi
      (cd "$qa" && python3 -m torch.distributed.launch --use_env --nproc_per_node="$ngpus" llava/train/train_mem.py \
        --deepspeed "$deepspeed" --model_name_or_path "$base" "${adapter[@]}" --version llava_llama_3 \
        --data_path "$dataset" --image_folder "$images" --vision_tower "$tower" \
        --mm_projector_type mlp2x_gelu "${tune[@]}" \
        --image_aspect_ratio anyres --group_by_modality_length True --mm_vision_select_layer -2 \
        --mm_vision_select_feature patch --mm_patch_merge_type spatial_unpad \
        --mm_use_im_start_end False --mm_use_im_patch_token False \
        --bf16 True --tf32 True --num_train_epochs 1 --learning_rate "$stage_lr" --weight_decay 0. \
        --warmup_ratio 0.03 --lr_scheduler_type cosine --model_max_length 6144 \
        --per_device_train_batch_size "$batch" --per_device_eval_batch_size 4 --gradient_accumulation_steps "$accum" \
        --gradient_checkpointing True --lazy_preprocess True --dataloader_num_workers 16 \
        --evaluation_strategy no --save_strategy steps --save_steps 500 --save_total_limit 1 \
        --logging_steps 10 --report_to none --output_dir "$target" --run_name "$target")
      adapter=(--pretrain_mm_mlp_adapter "$target/mm_projector.bin")
      [ "$n" -eq ${#stages[@]} ] || [ -f "$target/mm_projector.bin" ] \
        || { echo "train.sh: the caption stage wrote no $target/mm_projector.bin (train_mem.py with --tune_mm_mlp_adapter saves the projector there)" >&2; exit 1; }
    done
    ;;
  qwen2-vl | llama-3.2-vision)
    for dataset in "${stages[@]}"; do
      n=$((n + 1))
      name="$domain-stage$n"
      target=$(stage_output $n)
      # LLaMA-Factory reads dataset_info.json and the datasets from --dataset_dir (ShareGPT:
      # messages + images) and the images from --media_dir. The docs copy dataset_info.json into
      # the image folder; here each stage writes its own beside its output, because the image
      # folder is shared by every stage training on the source (fetch-data extracts it once).
      mkdir -p "$out-inputs"
      cp "$dataset" "$out-inputs/$name.json"
      python3 - "$out-inputs/dataset_info.json" "$name" <<'PY'
import json, os, sys
path, name = sys.argv[1], sys.argv[2]
info = json.load(open(path)) if os.path.exists(path) else {}
info[name] = {"file_name": f"{name}.json", "formatting": "sharegpt",
              "columns": {"messages": "messages", "images": "images"},
              "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}}
json.dump(info, open(path, "w"), indent=2)
PY
      (cd "$factory" && python3 -m torch.distributed.launch --nproc_per_node="$ngpus" src/train.py \
        --model_name_or_path "$model" --stage sft --do_train --finetuning_type full \
        --dataset "$name" --dataset_dir "$out-inputs" --media_dir "$images" --template "$template" \
        --deepspeed "$deepspeed" --per_device_train_batch_size "$batch" --gradient_accumulation_steps "$accum" \
        --learning_rate "$lr" --lr_scheduler_type cosine --warmup_ratio 0.1 --weight_decay 0.1 \
        --num_train_epochs 1 --cutoff_len 6144 --bf16 --save_steps 500 --save_total_limit 1 \
        --overwrite_cache --ddp_timeout 180000000 --logging_steps 10 --report_to none --preprocessing_num_workers 32 \
        --output_dir "$target")
      model=$target
    done
    # vLLM loads the result with the base model's tokenizer and chat-template files (docs/Post_Train.md
    # copies chat_template.json, the tokenizer files, merges.txt and vocab.json for Qwen2-VL).
    for f in "$base"/*token* "$base"/*chat_template* "$base"/merges.txt "$base"/vocab.json "$base"/preprocessor_config.json; do
      if [ -e "$f" ]; then cp -L "$f" "$out/"; fi
    done
    ;;
esac
