#!/usr/bin/env bash
# Sourced by evaluate.sh, synthesize.sh and filter-seed.sh: upstream vllm_inference/inference.py run
# data-parallel as run_inference.sh and run_synthesis.sh run it (one process per GPU of the stage,
# each seeing only its GPU, then merge_predictions.py), with two differences. Each shard's exit
# status is checked: the upstream scripts wait with a bare `wait`, so a crashed shard's rows would
# be missing from the merged file without a word. And a shard's index is its position in
# CUDA_VISIBLE_DEVICES: upstream passes the GPU id, so GPUs other than 0..N-1 would ask for shards
# that do not exist.
#   recipe=NAME gpus=(...) python=PY; cd QA_DIR/vllm_inference
#   run_shards WHAT OUTPUT_PREFIX INFERENCE_ARGS...   -> OUTPUT_PREFIX.jsonl (merged)
#   expect_rows FILE N WHAT                           -> exit 1 unless FILE has N rows
run_shards() {
  local what=$1 prefix=$2
  shift 2
  local pids=() i failed=0
  for i in "${!gpus[@]}"; do
    CUDA_VISIBLE_DEVICES=${gpus[$i]} "$python" inference.py "$@" --cuda_device "$i" --output_dir "$prefix" \
      --remove_cache --data_parallel_size ${#gpus[@]} &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do   # every shard is waited for: one left running would hold its GPU
    wait "${pids[$i]}" || { echo "$recipe: $what: shard $i (GPU ${gpus[$i]}) failed" >&2; failed=$((failed + 1)); }
  done
  [ "$failed" = 0 ] || { echo "$recipe: $what: $failed of ${#pids[@]} shards failed; the merged file would lack their rows" >&2; exit 1; }
  "$python" merge_predictions.py --output_dir "$prefix"
}
expect_rows() {
  local n
  n=$(grep -c '' "$1" 2>/dev/null) || n=0
  [ "$n" = "$2" ] || { echo "$recipe: $3: $1 has $n rows, expected $2 (rows were lost on the way)" >&2; exit 1; }
}
