#!/usr/bin/env bash
# The rehearsal: the paper profile's Table 4 chain on this machine's CPU, against the real
# LLaMA-Factory (0.9.3's released source, cloned through `code:`), transformers and datasets in the
# environment built from the CPU lock (experiments/adamllm/environments/llama-factory-cpu.txt), with
# tiny checkpoints and datasets in the real repositories' layouts served under their real names by
# the hub look-alike, and fetched and locked by workbench as the paper profile does.
#   scripts/rehearse.sh [--cells FILTER ...]
# Default cells: Qwen2-VL-2B and Llama-3.2-11B single-stage on PMCRefined's GPT-4V baseline
# (PubMedVision), and Qwen2-VL-2B two-stage on it. Everything lives in .workbench/rehearsal/: a
# scratch workspace (a committed copy of experiments/ and python/; its own store, lock file and
# Hugging Face cache, so nothing rehearsed touches the real ones), the tiny hub, the LLaMA-Factory
# repository, and the hub builder's environment. A second invocation is all cache hits.
# Environment: WORKBENCH (default .build/debug/workbench), WHEEL_DIR (the CPU torch, /opt/wheels).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${WORKBENCH:-$repo/.build/debug/workbench}"
say() { echo "rehearse: $*" >&2; }
[ -x "$bin" ] || { say "no workbench binary at $bin (swift build first)"; exit 1; }
cells=()
while [ $# -gt 0 ]; do
  case "$1" in
    --cells) [ $# -ge 2 ] || { say "--cells needs a filter"; exit 64; }; cells+=(--cells "$2"); shift 2 ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) say "unknown argument $1 (--cells FILTER ...)"; exit 64 ;;
  esac
done
if [ ${#cells[@]} -eq 0 ]; then
  cells=(--cells row=qwen2-vl-2b,column=pmc-refined-single-gpt4v --cells row=llama-3.2-11b,column=pmc-refined-single-gpt4v
         --cells row=qwen2-vl-2b,column=pmc-refined-two-gpt4v)
fi
root="$repo/.workbench/rehearsal"
ws="$root/workspace"
mkdir -p "$root" "$ws"
export OMP_NUM_THREADS=1 PYTHONHASHSEED=0 TOKENIZERS_PARALLELISM=false HF_HUB_DISABLE_TELEMETRY=1

# 1. The scratch workspace: this checkout's experiments/ and python/, committed.
# The rehearsal's own lock is kept (the look-alike's commits); the checkout's real one never comes.
kept=$(mktemp -d)
cp -a "$ws/experiments/adamllm/adamllm.lock" "$kept/" 2>/dev/null || true
rm -rf "$ws/experiments" "$ws/python"
cp -a "$repo/experiments" "$repo/python" "$ws/"
find "$ws/python" -name __pycache__ -prune -exec rm -rf {} +
rm -f "$ws"/experiments/*/*.lock "$ws"/experiments/*/*.lock.tmp*
cp -a "$kept/adamllm.lock" "$ws/experiments/adamllm/" 2>/dev/null || true
rm -rf "$kept"
if [ ! -d "$ws/.git" ]; then git -C "$ws" -c init.defaultBranch=main init -q; printf '.workbench/\n__pycache__/\n' >"$ws/.gitignore"; fi
git -C "$ws" add -A
head=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ws" diff --cached --quiet || git -C "$ws" -c user.name=rehearsal -c user.email=rehearsal@workbench.invalid \
  commit -qm "rehearsal copy of $head$(git -C "$repo" diff --quiet HEAD 2>/dev/null || echo +uncommitted)"

# 2. The hub builder's environment: the rehearsal's own lock, so the tiny checkpoints are written by
# the transformers that will load them (rebuilt when the lock changes).
lock="$repo/experiments/adamllm/environments/llama-factory-cpu.txt"
digest=$(cat "$lock" "$repo/experiments/adamllm/environments/cpu-site.py" | sha256sum | cut -d' ' -f1)
tools="$root/tools-env"
if [ "$(cat "$tools.digest" 2>/dev/null)" != "$digest" ]; then
  say "building the hub builder's environment from $(basename "$lock")"
  bash "$repo/experiments/adamllm/recipes/python-env.sh" "$lock" "$tools/bin/python" "$root/tools-env.freeze" \
    "$repo/experiments/adamllm/environments/cpu-site.py" >"$root/tools-env.log" 2>&1 || { cat "$root/tools-env.log" >&2; exit 1; }
  echo "$digest" >"$tools.digest"
fi

# 3. The tiny hub (rebuilt when its builder changes) and the look-alike serving it.
hub="$root/hub"
hub_digest=$(cat "$repo"/python/workbench_rehearsal/*.py "$repo/python/workbench_smoke/world.py" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$hub/.digest" 2>/dev/null)" != "$hub_digest:$digest" ]; then
  say "building the tiny checkpoints and datasets"
  rm -rf "$hub"
  PYTHONPATH="$repo/python" "$tools/bin/python" -m workbench_rehearsal.hub --out "$hub" >"$root/hub.log" 2>&1 \
    || { cat "$root/hub.log" >&2; exit 1; }
  echo "$hub_digest:$digest" >"$hub/.digest"
fi
rm -f "$root/port"
python3 "$repo/scripts/hub-test-host.py" --config "$hub/hub.json" --port-file "$root/port" >"$root/host.log" 2>&1 &
host=$!
trap 'kill $host 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [ -s "$root/port" ] && break; sleep 0.1; done
[ -s "$root/port" ] || { say "the hub look-alike did not start"; cat "$root/host.log" >&2; exit 1; }
export HF_ENDPOINT="http://127.0.0.1:$(cat "$root/port")" HF_HOME="$root/hf"
unset HF_TOKEN HF_HUB_OFFLINE
say "hub look-alike at $HF_ENDPOINT serving $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["repos"]))' "$hub/hub.json") repositories"

# 4. LLaMA-Factory's released source as a git repository the `code:` mechanism clones.
bash "$repo/scripts/rehearsal-llama-factory.sh" "$ws/.workbench/rehearsal/LLaMA-Factory.git" >&2

# 5. The reproduction.
say "workbench reproduce table-4 --profile rehearsal ${cells[*]}"
status=0
"$bin" reproduce table-4 --profile rehearsal --workspace "$ws" "${cells[@]}" || status=$?
# The lock a first reproduction wrote, committed, so later runs record a clean tree.
git -C "$ws" add -A
git -C "$ws" diff --cached --quiet || git -C "$ws" -c user.name=rehearsal -c user.email=rehearsal@workbench.invalid \
  commit -qm "rehearsal lock"
exit $status
