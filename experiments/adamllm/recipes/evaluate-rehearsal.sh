#!/usr/bin/env bash
# Evaluation recipe of the rehearsal profile: evaluate.sh's steps with its one program that has no
# CPU build, the upstream vLLM inference, replaced by python/workbench_rehearsal/infer.py
# (transformers' generate on the same questions, the same chat messages, greedy; a stand-in, said
# in the log), then the same native scorers. No upstream results file exists to cross-check.
#   evaluate-rehearsal.sh PYTHON CHECKPOINT INFER_DOMAIN MODEL_TYPE BENCHMARK_MANIFEST OUT TASK...
# PYTHON: the rehearsal's LLaMA-Factory environment (transformers 4.52.3 with a CPU torch).
# CHECKPOINT: a trained model directory, or a fetch manifest (the general model).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
python=$1 checkpoint=$2 domain=$3 model_type=$4 benchmark=$5 out=$6
shift 6
[ -x "$python" ] || { echo "evaluate-rehearsal.sh: $python is not an executable interpreter" >&2; exit 2; }
label=$checkpoint
if [ -f "$checkpoint" ]; then checkpoint=$("$WORKBENCH" fetch --from "$checkpoint" --quiet); fi
bench_dir=$("$WORKBENCH" fetch --from "$benchmark" --quiet)
echo "evaluate-rehearsal.sh: STAND-IN for vLLM (no CPU build): transformers generate answers the $domain benchmark" >&2
mkdir -p "$out/predictions"
PYTHONPATH="$repo/python" OMP_NUM_THREADS=1 HF_DATASETS_OFFLINE=1 "$python" -m workbench_rehearsal.infer \
  --model "$checkpoint" --model-type "$model_type" --benchmark "$bench_dir" --out "$out/predictions" "$@"
for task in "$@"; do
  "$WORKBENCH" score --record --task "$task" --predictions "$out/predictions/$task.jsonl" --label "$label (rehearsal)" >/dev/null
done
"$WORKBENCH" score --record --domain-average-of "$@"
