#!/usr/bin/env bash
# The `smoke` profile of the paper catalog: every stage of adamllm.yaml through the CPU stand-ins
# (python/workbench_smoke: tiny random-init Qwen2-VL models, a drawn-shapes world), so every paper
# table runs end to end on a small CPU machine and renders in the paper's layout. The numbers are
# stand-in scores: they exercise synthesis -> filter -> post-training -> evaluation -> scoring and
# the tables, and are not comparable to the paper's.
#   smoke.sh PYTHON model SIZE SEED MANIFEST
#       a stand-in "checkpoint" manifest: which tiny model (size preset, seed) stands in for a base
#       model or a released checkpoint
#   smoke.sh PYTHON data SEED OUT
#       the source's stand-in image-caption pairs (OUT/pairs), drawn with SEED
#   smoke.sh PYTHON synthesize DATA SEED SYNTH_STEPS JUDGE_STEPS OUT
#       a synthesizer and a consistency checker trained (with SEED) on the pairs of DATA (a data
#       output) -> synthesized tasks (OUT/synthesized.jsonl) -> filtered tasks (OUT/filtered.jsonl)
#   smoke.sh PYTHON train KIND PAIRS_DATA DATA PIPELINE TASKS BASE_MANIFEST STEPS OUT
#       PAIRS_DATA: the source's data output (its image-caption pairs). KIND ours: DATA is a
#       synthesize output; KIND baseline: DATA is the seed with which the manual-rules tasks,
#       standing in for the baseline's instructions, are written. TASKS (a kind ours source; the
#       catalog's smoke_tasks of the cell's ablation): filtered (the synthesis's filtered tasks),
#       rules (manual-rules tasks on the same pairs), unfiltered (every synthesized task, as if the
#       checker kept it), none (captions only).
#   smoke.sh PYTHON unused STAGE OUTPUT...
#       the paper-only stages the stand-ins do not consume (fetch-synthesizer, fetch-seed,
#       filter-seed, tune-synthesizer, synthesize-tuned, train-data: the stand-in train takes the
#       tasks the catalog's smoke_tasks names): each OUTPUT made as an empty placeholder saying so, so a whole-spec smoke run
#       that plans them as sinks completes
#   smoke.sh PYTHON benchmark SEED OUT
#       the domain's stand-in benchmark (OUT/bench), drawn with SEED
#   smoke.sh PYTHON evaluate CHECKPOINT DOMAIN BENCHMARK OUT TASK...
#       CHECKPOINT: a train output, or a manifest (the general rows: an untrained model); the
#       stand-in benchmark of BENCHMARK (a benchmark output), answered, written as the domain's task files
#       (workbench_smoke.paper_tasks) and scored by the native scorers (`workbench score`).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
py=$1 what=$2
shift 2
case "$py" in /*) ;; *) py="$repo/$py" ;; esac
[ -x "$py" ] || { echo "smoke.sh: no Python at $py (run scripts/setup-ml.sh)" >&2; exit 69; }
export PYTHONPATH="$repo/python" OMP_NUM_THREADS=1 PYTHONHASHSEED=0
run() { "$py" -m "workbench_smoke.$1" "${@:2}"; }
manifest_field() { "$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

case "$what" in
model)
  size=$1 seed=$2 out=$3
  printf '{"stand_in": "tiny-qwen2-vl-%s", "size": "%s", "seed": %d}\n' "$size" "$size" "$seed" >"$out"
  ;;
data)
  seed=$1 out=$2
  mkdir -p "$out"
  run gen_data --out-pairs "$out/pairs" --out-bench "$out/unused-bench" --n-train 96 --n-bench 7 --seed "$seed"
  ;;
synthesize)
  pairs="$1/pairs" seed=$2 synth_steps=$3 judge_steps=$4 out=$5
  mkdir -p "$out"
  run train_synthesizer --pairs "$pairs" --out "$out/synthesizer" --steps "$synth_steps" --seed "$seed"
  run train_judge --pairs "$pairs" --out "$out/judge" --steps "$judge_steps" --seed "$seed"
  run synthesize --synth "$out/synthesizer" --pairs "$pairs" --out "$out/synthesized.jsonl" --seed "$seed"
  run filter --judge "$out/judge" --tasks "$out/synthesized.jsonl" --out "$out/filtered.jsonl"
  ;;
train)
  kind=$1 pairs="$2/pairs" data=$3 pipeline=$4 which=$5 base=$6 steps=$7 out=$8
  mkdir -p "$out"
  case "$kind" in
  ours | baseline) ;;
  *) echo "smoke.sh: train: unknown data kind '$kind' (ours | baseline)" >&2; exit 64 ;;
  esac
  tasks="$out/tasks.jsonl"
  if [ "$kind" = baseline ]; then
    run rules --pairs "$pairs" --out "$tasks" --seed "$data"
  else
    case "$which" in
    filtered) cp "$data/filtered.jsonl" "$tasks" ;;
    rules) run rules --pairs "$pairs" --out "$tasks" ;;
    unfiltered)   # every synthesized task, as if the checker kept it
      "$py" -c 'import json,sys
with open(sys.argv[2], "w") as out:
    for line in open(sys.argv[1]):
        if line.strip():
            row = json.loads(line); row["pred"] = "Yes"; out.write(json.dumps(row) + "\n")' "$data/synthesized.jsonl" "$tasks" ;;
    none) : >"$tasks" ;;
    *) echo "smoke.sh: train: unknown tasks '$which' (filtered | rules | unfiltered | none: the catalog's smoke_tasks)" >&2; exit 64 ;;
    esac
  fi
  run format --tasks "$tasks" --pairs "$pairs" --pipeline "$pipeline" --out "$out/data"
  run train --data "$out/data" --pipeline "$pipeline" --model-size "$(manifest_field "$base" size)" \
    --seed "$(manifest_field "$base" seed)" --steps "$steps" --out "$out/checkpoint"
  ;;
unused)
  stage=$1
  shift
  for output in "$@"; do
    case "$output" in
      *.json) printf '{"stand_in": "none", "stage": "%s", "note": "not used by the smoke profile"}\n' "$stage" >"$output" ;;
      *) mkdir -p "$output" && echo "$stage: not used by the smoke profile" >"$output/README" ;;
    esac
  done
  ;;
benchmark)
  seed=$1 out=$2
  mkdir -p "$out"
  run gen_data --out-pairs "$out/unused-pairs" --out-bench "$out/bench" --n-train 2 --n-bench 56 --seed "$seed"
  ;;
evaluate)
  checkpoint=$1 domain=$2 bench="$3/bench" out=$4
  shift 4
  mkdir -p "$out"
  if [ -f "$checkpoint" ]; then   # a manifest: the general model, untrained
    run evaluate --untrained-size "$(manifest_field "$checkpoint" size)" --seed "$(manifest_field "$checkpoint" seed)" \
      --bench "$bench" --out "$out/predictions.jsonl"
  else
    run evaluate --model "$checkpoint/checkpoint/final" --bench "$bench" --out "$out/predictions.jsonl"
  fi
  run paper_tasks --predictions "$out/predictions.jsonl" --domain "$domain" --out "$out/tasks"
  for task in "$@"; do
    "$WORKBENCH" score --record --task "$task" --predictions "$out/tasks/$task.jsonl" >/dev/null
  done
  "$WORKBENCH" score --record --domain-average-of "$@"
  ;;
*)
  echo "smoke.sh: unknown step '$what' (model | data | benchmark | synthesize | train | evaluate | unused)" >&2
  exit 64
  ;;
esac
