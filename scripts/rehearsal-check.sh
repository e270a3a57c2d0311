#!/usr/bin/env bash
# The rehearsal as a test (scripts/test.sh runs it): scripts/rehearse.sh on its default cells from a
# fresh rehearsal workspace (the hub builder's environment and the tiny hub are kept when their
# inputs did not change), then checks that LLaMA-Factory itself trained each model (its own log
# in the stage output, its trainer_log.jsonl and weights beside the model), in the environment
# built from the CPU lock (the freeze recorded with the attempt) satisfying the requirements of
# the LLaMA-Factory checkout it ran, that every chosen cell has a value under the rehearsal's
# label, that each training changed the vision tower, the projector and the language model (the
# catalog's freeze flags: Table 10 trains the whole model), and that a second invocation is all cache
# hits.
#   scripts/rehearsal-check.sh
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root="$repo/.workbench/rehearsal"
ws="$root/workspace"
fail() { echo "rehearsal-check: FAILED: $*" >&2; exit 1; }
mkdir -p "$root"
rm -rf "$ws"
t0=$(date +%s)
"$repo/scripts/rehearse.sh" >"$root/first.md" 2>"$root/first.log" || { cat "$root/first.log" "$root/first.md"; fail "the first rehearsal failed"; }
echo "rehearsal-check: first rehearsal $(( $(date +%s) - t0 )) s"
grep -E "^time:|slowest" "$root/first.log" || true
cat "$root/first.md"
run=$(ls "$ws/.workbench/runs" | head -1)
attempts="$ws/.workbench/runs/$run"
python3 - "$ws" "$attempts" <<'PY'
import csv, glob, json, os, sys
ws, attempts = sys.argv[1], sys.argv[2]
def fail(message):
    sys.exit(f"rehearsal-check: FAILED: {message}")
trains = sorted(glob.glob(os.path.join(attempts, "train@*", "attempt-*")))
if len(trains) != 3:
    fail(f"expected 3 training attempts, found {len(trains)}")
for attempt in trains:
    log = open(os.path.join(attempt, "stdout.log")).read() + open(os.path.join(attempt, "stderr.log")).read()
    for needle in ("llamafactory.model.loader", "Fine-tuning method: Full", "train_loss"):
        if needle not in log:
            fail(f"{attempt}: LLaMA-Factory's log lacks {needle!r}")
    command = open(os.path.join(attempt, "command.sh")).read()
    out = command.split("--out ")[-1].split()[0]
    for name in ("trainer_log.jsonl", "model.safetensors", "config.json", "tokenizer.json"):
        if not os.path.exists(os.path.join(out, name)):
            fail(f"{out} has no {name}")
    if "llama-factory-295eac291570" not in command:
        fail(f"{attempt}: not the rehearsal's LLaMA-Factory checkout")
two = [a for a in trains if "pipeline=two" in a]
if len(two) != 1 or not glob.glob(os.path.join(open(os.path.join(two[0], "command.sh")).read().split("--out ")[-1].split()[0] + "-stage1", "model.safetensors")):
    fail("the two-stage training left no stage-1 model")
env_log = open(glob.glob(os.path.join(attempts, "env-llama-factory", "attempt-*", "stdout.log"))[0]).read()
for pin in ("transformers==4.52.3", "torch==2.13.0+cpu", "datasets==3.6.0", "trl==0.9.6"):
    if pin not in env_log:
        fail(f"the environment's recorded freeze lacks {pin}")
rows = list(csv.DictReader(open(os.path.join(ws, ".workbench/reports/table-4.csv"))))
filled = [(r["row"], r["column"]) for r in rows if r.get("ours")]
want = {("qwen2-vl-2b", "pmc-refined-single-gpt4v"), ("llama-3.2-11b", "pmc-refined-single-gpt4v"), ("qwen2-vl-2b", "pmc-refined-two-gpt4v")}
if set(filled) != want:
    fail(f"filled cells {sorted(filled)}, expected {sorted(want)}")
lock = open(os.path.join(ws, "experiments/adamllm/adamllm.lock")).read().splitlines()
locked = [line.split()[1] for line in lock if line.startswith(("model ", "dataset "))]
if len(locked) != 5 or sum(line.startswith("  commit ") for line in lock) != 5:
    fail(f"the rehearsal's lock holds {locked}, not the 5 repositories it fetches")
print(f"rehearsal-check: {len(trains)} trainings by LLaMA-Factory, {len(filled)} cells filled, {len(locked)} repositories locked")
PY
grep -q "a rehearsal on CPU" "$root/first.md" || fail "the report does not say it is a rehearsal"
# The environment satisfies the requirements of the LLaMA-Factory checkout that ran in it.
env_python=$(ls -d "$ws"/.workbench/outputs/env-llama-factory/*/env/bin/python | head -1)
checkout=$(ls -d "$ws"/.workbench/cache/code/llama-factory-* | head -1)
"$env_python" - "$checkout/requirements.txt" <<'PY' || fail "the LLaMA-Factory environment does not meet the checkout's requirements"
import sys
from importlib.metadata import version, PackageNotFoundError
from packaging.requirements import Requirement
bad = []
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if not line:
        continue
    req = Requirement(line)
    if req.marker is not None and not req.marker.evaluate():
        continue
    try:
        have = version(req.name)
    except PackageNotFoundError:
        bad.append(f"{req.name} missing")
        continue
    if req.specifier and have not in req.specifier:
        bad.append(f"{req.name} {have} not {req.specifier}")
print("rehearsal-check: the environment meets the checkout's requirements.txt" if not bad else "\n".join(bad))
sys.exit(1 if bad else 0)
PY
# What each training trained: the catalog passes LLaMA-Factory --freeze_vision_tower false and
# --freeze_multi_modal_projector false (Table 10 trains the whole model), so the vision tower, the
# projector and the language model all differ from the base; a group left frozen would be equal.
"$env_python" - "$attempts" "$root/hf" <<'PY' || fail "a training did not train what the catalog says"
import glob, json, os, sys
import torch
from safetensors.torch import load_file
attempts, hf = sys.argv[1], sys.argv[2]
def group(name):
    if "multi_modal_projector" in name or "visual.merger" in name:
        return "projector"
    if "vision_model" in name or "visual." in name:
        return "vision"
    return "language"
def weights(folder):
    out = {}
    for f in sorted(glob.glob(os.path.join(folder, "*.safetensors"))):
        out.update(load_file(f))
    return out
bad = []
for attempt in sorted(glob.glob(os.path.join(attempts, "train@*", "attempt-*"))):
    command = open(os.path.join(attempt, "command.sh")).read()
    manifest = json.load(open(command.split("--base ")[-1].split()[0]))
    base = os.path.join(hf, "hub", "models--" + manifest["repo"].replace("/", "--"), "snapshots", manifest["commit"])
    out = command.split("--out ")[-1].split()[0]
    before, after = weights(base), weights(out)
    changed = {}
    for name, tensor in after.items():
        if name in before:
            g = group(name)
            changed[g] = changed.get(g, False) or not torch.equal(before[name], tensor)
    stage = os.path.basename(os.path.dirname(attempt)).split(",")[0]
    print(f"rehearsal-check: {stage}: changed " + ", ".join(f"{g} {'yes' if c else 'NO'}" for g, c in sorted(changed.items())))
    if sorted(changed) != ["language", "projector", "vision"] or not all(changed.values()):
        bad.append(stage)
sys.exit(1 if bad else 0)
PY
"$repo/scripts/rehearse.sh" >"$root/second.md" 2>"$root/second.log" || { cat "$root/second.log"; fail "the second rehearsal failed"; }
grep -q "0 to run" "$root/second.log" || { cat "$root/second.log"; fail "the second invocation ran stages again"; }
echo "rehearsal-check: second invocation: $(grep -o '[0-9]* stage(s), [0-9]* cached, 0 to run' "$root/second.log")"
