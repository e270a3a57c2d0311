#!/usr/bin/env bash
# Post-training of LLaVA-v1.6-8B (open-llava-next-llama3-8b) with upstream llava/train/train_mem.py,
# which QA-Synthesizer's scripts/post_train_mllm.sh launches, with that script's settings (= the
# paper's Table 10) and the catalog's batch, accumulation, ZeRO config and learning rate; the pinned
# base and vision tower snapshots instead of the hub id and the /openai/... folder the script names,
# the stage's GPUs and output instead of its 8 and its folder.
#   train-llava.sh --python PY --qa DIR --base MANIFEST --vision MANIFEST --batch N --accumulation N
#       --deepspeed JSON --precision bf16 --processes gpus|N --lr LR --images DIR --out DIR
#       --stage FILE [--stage FILE]
# PY: the interpreter of the LLaVA environment (the env-llava stage's). LLaVA is not rehearsed on a
# CPU (its code may not be redistributed), so only the paper's bf16 and ZeRO config are taken.
# Two training stages (the paper's two-stage pipeline; the release has no script for it): the
# first trains the projector alone at 2e-3, as LLaVA's own first stage (train_mem.py then saves
# only OUT-stage1/mm_projector.bin), the second starts from the base with that projector and the
# full settings. Not through --pretrain_mm_mlp_adapter: llava_arch.py loads it with a plain
# load_state_dict into a projector ZeRO-3 has already partitioned (size mismatch, torch.Size([0]));
# the second stage starts instead from OUT-start, the base's folder with the first stage's
# projector written into its weights (python/workbench_convert/llava_stage2.py), which
# from_pretrained loads under ZeRO-3 like any checkpoint. Every training file is checked first for the row shape LLaVA's loader asserts (one
# image, <image> first, user/assistant turns): the first bad row is named before any GPU loads.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/train-common.sh" train-llava.sh \
  "python qa base vision batch accumulation deepspeed precision processes lr images out" "$@"
[ "$precision" = bf16 ] || refuse "--precision $precision: LLaVA trains in bf16 only (the upstream script's --bf16 True)"
[ "$deepspeed" != none ] || refuse "--deepspeed none: LLaVA's train_mem.py runs under DeepSpeed only"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
tower=$("$WORKBENCH" fetch --from "$vision" --quiet)
PYTHONPATH="$repo/python" "$python" -m workbench_data.rows check-llava "${stages[@]}" >&2
start=$base   # where the next training stage starts
for n in $(seq 1 ${#stages[@]}); do
  target=$(stage_output "$n")
  if stage_done "$n"; then
    echo "train-llava.sh: training stage $n finished in an earlier attempt ($target.done): skipped" >&2
    projector="$target/mm_projector.bin"
    continue
  fi
  if [ -n "${projector:-}" ]; then
    start="$out-start"
    rm -rf "$start"
    PYTHONPATH="$repo/python" "$python" -m workbench_convert.llava_stage2 --base "$base" --projector "$projector" --out "$start" >&2
  fi
  if [ "$n" -lt ${#stages[@]} ]; then
    tune=(--tune_mm_mlp_adapter True) stage_lr=2e-3
    # A projector-only stage's checkpoints hold mm_projector.bin alone (llava_trainer.py saves
    # nothing else), yet train.py resumes from any checkpoint-* it finds: a requeue starts it clean.
    for c in "$target"/checkpoint-*; do
      if [ -e "$c" ]; then echo "train-llava.sh: removing $c (a projector-only checkpoint cannot be resumed)" >&2; rm -rf "$c"; fi
    done
  else
    tune=(--unfreeze_mm_vision_tower True --mm_vision_tower_lr 2e-6) stage_lr=$lr
  fi
  (cd "$qa" && "$python" -m torch.distributed.launch --use_env --nproc_per_node="$ngpus" llava/train/train_mem.py \
    --deepspeed "$deepspeed" --model_name_or_path "$start" --version llava_llama_3 \
    --data_path "${stages[$((n - 1))]}" --image_folder "$images" --vision_tower "$tower" \
    --mm_projector_type mlp2x_gelu "${tune[@]}" \
    --image_aspect_ratio anyres --group_by_modality_length True --mm_vision_select_layer -2 \
    --mm_vision_select_feature patch --mm_patch_merge_type spatial_unpad \
    --mm_use_im_start_end False --mm_use_im_patch_token False \
    --bf16 True --tf32 True --num_train_epochs 1 --learning_rate "$stage_lr" --weight_decay 0. \
    --warmup_ratio 0.03 --lr_scheduler_type cosine --model_max_length 6144 \
    --per_device_train_batch_size "$batch" --per_device_eval_batch_size 4 --gradient_accumulation_steps "$accumulation" \
    --gradient_checkpointing True --lazy_preprocess True --dataloader_num_workers 16 \
    --evaluation_strategy no --save_strategy steps --save_steps 500 --save_total_limit 1 \
    --logging_steps 10 --report_to none --output_dir "$target" --run_name "$target")
  projector="$target/mm_projector.bin"
  [ "$n" -eq ${#stages[@]} ] || [ -f "$target/mm_projector.bin" ] \
    || { echo "train-llava.sh: the caption stage wrote no $target/mm_projector.bin (train_mem.py with --tune_mm_mlp_adapter saves the projector there)" >&2; exit 1; }
  mark_done "$n"
done
rm -rf "$out-start"   # the second stage's starting folder (rewritten weight files): the model is in OUT
