#!/usr/bin/env bash
# Evaluation recipe of the paper profile: for each task of the domain, what the upstream
# inference script (QA-Synthesizer vllm_inference/run_inference.sh) runs: inference.py
# data-parallel over the stage's GPUs (recipes/shards.sh: every shard's exit checked, and the merged
# predictions must hold one row per benchmark row), merge_predictions.py, eval_predictions.py;
# then the native scorers on the predictions, cross-checked against the upstream results files.
#   evaluate.sh PYTHON QA_DIR CHECKPOINT INFER_DOMAIN MODEL_TYPE BENCHMARK_MANIFEST OUT TASK...
# PYTHON: the vLLM environment's interpreter (the env-vllm stage's output).
# CHECKPOINT: a trained model directory, or a fetch manifest (the general model or a released
# checkpoint at its pinned revision), or a hub id (fetched unpinned, for a manual run).
# BENCHMARK_MANIFEST: the fetch-benchmark stage's manifest. The upstream inference loads the
# benchmark by its hub name (load_dataset('AdaptLLM/DOMAIN-VQA-benchmark', TASK)), which would
# read whatever the hub holds today; here it runs in a private view of the checkout (links to
# its files) whose working directory holds a folder of that name: the pinned snapshot, which
# `datasets` loads as a local dataset. The shared checkout itself is not touched.
set -euo pipefail
python=$1 qa=$2 checkpoint=$3 domain=$4 model_type=$5 benchmark=$6 out=$7
shift 7
[ -x "$python" ] || { echo "evaluate.sh: $python is not an executable interpreter (the env-vllm stage's output)" >&2; exit 2; }
export PATH="$(dirname "$python"):$PATH"   # the upstream scripts call `python`: the environment's
manifest_field() { "$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
recipe=evaluate.sh
. "$(dirname "${BASH_SOURCE[0]}")/shards.sh"
IFS=, read -ra gpus <<<"${CUDA_VISIBLE_DEVICES:-0}"   # unset: upstream's one GPU
label=$checkpoint
if [ -d "$checkpoint" ] && [ -f "$checkpoint/manifest.json" ] && [ ! -f "$checkpoint/config.json" ]; then
  checkpoint="$checkpoint/manifest.json"   # convert-llava.sh kept a released LLaVA-NeXT checkpoint's manifest
fi
if [ -f "$checkpoint" ]; then   # a fetch manifest: its pinned snapshot in the cache
  repo_id=$(manifest_field "$checkpoint" repo)
  commit=$(manifest_field "$checkpoint" commit)
  label="$repo_id@$commit"
  checkpoint=$("$WORKBENCH" fetch --from "$checkpoint" --quiet)
elif [ ! -d "$checkpoint" ]; then   # a hub id (unpinned): fetched now
  checkpoint=$("$WORKBENCH" fetch "$checkpoint" --quiet)
fi
[ -f "$checkpoint/config.json" ] || { echo "evaluate.sh: $checkpoint has no config.json (not a model folder)" >&2; exit 66; }
if [ "$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("model_type"))' "$checkpoint/config.json")" = llava_llama ]; then
  echo "evaluate.sh: $checkpoint is in LLaVA's training layout (model_type llava_llama), which vLLM cannot load; the convert-llava stage converts it" >&2
  exit 2
fi
bench_repo=$(manifest_field "$benchmark" repo)
bench_dir=$("$WORKBENCH" fetch --from "$benchmark" --quiet)
view="$out/upstream"
rm -rf "$view"
mkdir -p "$view/vllm_inference/$(dirname "$bench_repo")"
for entry in "$qa"/* "$qa"/.[!.]*; do
  if [ -e "$entry" ] && [ "$(basename "$entry")" != vllm_inference ]; then ln -s "$entry" "$view/"; fi
done
for entry in "$qa"/vllm_inference/* "$qa"/vllm_inference/.[!.]*; do
  if [ -e "$entry" ]; then ln -s "$entry" "$view/vllm_inference/"; fi
done
ln -s "$bench_dir" "$view/vllm_inference/$bench_repo"
mkdir -p "$out/predictions" "$out/results"
echo "evaluate.sh: domain $domain ($*), model type $model_type, ${#gpus[@]} shard(s)"
(
  cd "$view/vllm_inference"
  export HF_DATASETS_OFFLINE=1
  for task in "$@"; do
    run_shards "$task" "$out/predictions/$task" --model_weight_path "$checkpoint" --task "$task" --model_type "$model_type"
    rows=$("$python" -c 'import datasets, sys; print(len(datasets.load_dataset(sys.argv[1], sys.argv[2], split="test")))' \
      "$bench_repo" "$task")
    expect_rows "$out/predictions/$task.jsonl" "$rows" "$task"
    "$python" eval_predictions.py --output_dir "$out/predictions/$task" --model_path "$checkpoint" --task_name "$task" \
      --model_type "$model_type" --eval_results_dir "$out/results"
  done
)
for task in "$@"; do
  "$WORKBENCH" score --record --task "$task" --predictions "$out/predictions/$task.jsonl" \
    --results "$out/results/$task.txt" --label "$label" >/dev/null
done
"$WORKBENCH" score --record --domain-average-of "$@"
