#!/usr/bin/env bash
# Sourced by the per-family training recipes (train-llava.sh, train-llama-factory.sh) with their
# arguments. A recipe runs an upstream program; what a cell trains on is the catalog's
# (catalog/axes.yaml: the pipeline's train_stages, from the ablation's train_single / train_two)
# and reaches it as flags, never decided here:
#   --NAME VALUE      into $NAME (dashes become underscores)
#   --stage FILE      once per training stage, in order, into the array stages
# Then: exactly the REQUIRED flags are taken (another is refused), each must be given, and every
# training file must exist; python (--python: the interpreter of the family's environment, an
# env-* stage's output) must be executable; ngpus is the number of processes launched: --processes
# gpus, one per GPU of the stage (CUDA_VISIBLE_DEVICES; unset: the upstream scripts' 8), or a number
# (the CPU rehearsal's 1); base becomes the pinned base
# snapshot's directory in the Hugging Face cache (from the fetch-model stage's manifest);
# stage_output N is where training stage N writes (the last one: --out; earlier ones beside it).
#   . train-common.sh RECIPE "REQUIRED..." "$@"
recipe=$1 required=$2
shift 2
refuse() { echo "$recipe: $*" >&2; exit 2; }
stages=()
while [ $# -gt 0 ]; do
  case "$1" in
    --*) [ $# -ge 2 ] || refuse "flag $1 has no value" ;;
    *) refuse "unexpected argument '$1' (every value comes as --NAME VALUE)" ;;
  esac
  name=${1#--} name=${name//-/_}
  if [ "$name" = stage ]; then
    stages+=("$2")
  else
    [[ " $required " == *" $name "* ]] || refuse "unknown flag $1 (flags: --stage, $(for f in $required; do printf -- '--%s ' "${f//_/-}"; done))"
    printf -v "$name" '%s' "$2"
  fi
  shift 2
done
for flag in $required; do
  [ -n "${!flag:-}" ] || refuse "--${flag//_/-} is required"
done
[ ${#stages[@]} -gt 0 ] || refuse "no training file (--stage FILE, once per training stage)"
for i in "${!stages[@]}"; do
  [ -f "${stages[$i]}" ] || refuse "training stage $((i + 1)): ${stages[$i]} does not exist (named by the catalog's train_single / train_two; did the stage that writes it complete?)"
done
[ -x "$python" ] || refuse "--python $python is not an executable interpreter (the env-* stage's output)"
IFS=, read -ra gpus <<<"${CUDA_VISIBLE_DEVICES:-0,1,2,3,4,5,6,7}"
ngpus=${#gpus[@]}
case "$processes" in
  gpus) ;;
  [1-9] | [1-9][0-9]) ngpus=$processes ;;
  *) refuse "--processes $processes: 'gpus' or a number of processes" ;;
esac
stage_output() { if [ "$1" -lt ${#stages[@]} ]; then echo "$out-stage$1"; else echo "$out"; fi; }
# A training stage before the last that finished leaves OUTPUT.done beside its output: a requeued
# job skips it instead of training it again (LLaMA-Factory would refuse its non-empty output folder).
stage_done() { [ "$1" -lt ${#stages[@]} ] && [ -f "$(stage_output "$1").done" ]; }
mark_done() { if [ "$1" -lt ${#stages[@]} ]; then : >"$(stage_output "$1").done"; fi; }
base=$("$WORKBENCH" fetch --from "$base" --quiet)
