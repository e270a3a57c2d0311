#!/usr/bin/env bash
# The visual instruction synthesizer tuned from the seed data as upstream scripts/tune_synthesizer.sh
# tunes it (its settings = the paper's Table 9: LLaVA-v1.6-Llama3-8B, full model, 2 epochs, 4 per GPU
# x 4 accumulation, lr 2e-5, vision tower 2e-6, ZeRO-3, max length 6144), launching the program it
# launches, upstream llava/train/train_mem.py, with the pinned base and vision tower, the laid-out
# seed files, the stage's GPUs and output; BLANK_PERCENT is the share of images replaced by a blank
# one (upstream: 10; Table 5's "w/o Blank Image": 0). The script names its base as a hub id, its
# tower as a folder and 8 GPUs itself, which is why it is not run as it is.
#   tune-synthesizer.sh PYTHON QA_DIR SEED_DIR BASE VISION DEEPSPEED BLANK_PERCENT OUT
# PYTHON: the LLaVA environment's interpreter (the env-llava stage's output).
# BASE, VISION: the fetch-model and fetch-vision manifests. A blank share above 0 needs the blank
# image upstream reads, QA_DIR/Blank.jpg.
set -euo pipefail
python=$1 qa=$2 seed=$3 base=$4 vision=$5 deepspeed=$6 blank=$7 out=$8
[ -x "$python" ] || { echo "tune-synthesizer.sh: $python is not an executable interpreter (the env-llava stage's output)" >&2; exit 2; }
for f in caption.json precise.json informative.json; do
  [ -s "$seed/$f" ] || { echo "tune-synthesizer.sh: no $seed/$f (the fetch-seed stage writes it)" >&2; exit 66; }
done
blank_args=()
if [ "$blank" != 0 ]; then
  [ -f "$qa/Blank.jpg" ] || { echo "tune-synthesizer.sh: --replace_with_blank_image_percent $blank needs $qa/Blank.jpg, which the checkout lacks" >&2; exit 66; }
  blank_args=(--blank_image_path "$qa/Blank.jpg")
fi
base=$("$WORKBENCH" fetch --from "$base" --quiet)
tower=$("$WORKBENCH" fetch --from "$vision" --quiet)
IFS=, read -ra gpus <<<"${CUDA_VISIBLE_DEVICES:-0,1,2,3,4,5,6,7}"   # unset: the upstream scripts' 8
ngpus=${#gpus[@]}
(cd "$qa" && "$python" -m torch.distributed.launch --use_env --nproc_per_node="$ngpus" llava/train/train_mem.py \
  --deepspeed "$deepspeed" --model_name_or_path "$base" --version llava_llama_3 \
  --image_folder "$seed/images" --vision_tower "$tower" \
  --mm_projector_type mlp2x_gelu --unfreeze_mm_vision_tower True --mm_vision_tower_lr 2e-6 \
  --image_aspect_ratio anyres --group_by_modality_length True --mm_vision_select_layer -2 \
  --mm_vision_select_feature patch --mm_patch_merge_type spatial_unpad \
  --mm_use_im_start_end False --mm_use_im_patch_token False --bf16 True --tf32 True \
  --output_dir "$out" --num_train_epochs 2 --per_device_train_batch_size 4 --per_device_eval_batch_size 4 \
  --gradient_accumulation_steps 4 --evaluation_strategy no --save_strategy steps --save_steps 500 \
  --save_total_limit 1 --learning_rate 2e-5 --weight_decay 0. --warmup_ratio 0.03 --lr_scheduler_type cosine \
  --logging_steps 10 --model_max_length 6144 --gradient_checkpointing True --dataloader_num_workers 4 \
  --lazy_preprocess True --report_to none --run_name "$out" \
  --syn_mode precise+informative --replace_with_blank_image_percent "$blank" \
  --caption_path "$seed/caption.json" --precise_qa_path "$seed/precise.json" --informative_qa_path "$seed/informative.json" \
  "${blank_args[@]}")
