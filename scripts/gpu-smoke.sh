#!/usr/bin/env bash
# The smoke chain on the lent GPU machine (one H100/H200, no network, torch + transformers +
# torchvision preinstalled): the same `workbench reproduce smoke` as on CPU, every torch stage on
# CUDA (WORKBENCH_SMOKE_DEVICE=cuda), nothing pip-installed. Meant to finish within 8 minutes.
#   usage: scripts/gpu-smoke.sh [WORKBENCH_BINARY] [--dry-run]
#     WORKBENCH_BINARY  a prebuilt binary, or the bundle scripts/pack-for-gpu.sh writes
#                       (.build-gpu/workbench-bundle.tar.xz, 20 MB: carry that one);
#                       default .build/release/workbench
#     --dry-run         every check, then `workbench plan` instead of running the stages
#   Exit: 0 ok, 1 a check or the run failed, 69 the binary cannot run here (ldd).
#   With $OUT set (the device tool), the log, reports, `show latest`, timings and the stages'
#   logs are written there (at most 8 files come back).
#   Test overrides (for CPU runs elsewhere): GPU_SMOKE_DEVICE=cpu (default cuda), GPU_SMOKE_VENV=DIR
#   (an existing venv instead of a fresh .venv-gpu), GPU_SMOKE_TIMEOUT=seconds (default 400).
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
dry=0 bin=""
for arg in "$@"; do case "$arg" in --dry-run) dry=1 ;; *) bin="$arg" ;; esac; done
bin="${bin:-.build/release/workbench}"
case "$bin" in /*) ;; *) bin="$repo/$bin" ;; esac
device="${GPU_SMOKE_DEVICE:-cuda}"
out="${OUT:-}"
if [ -n "$out" ]; then mkdir -p "$out"; exec > >(tee -a "$out/gpu-smoke.log") 2>&1; fi
say() { echo "gpu-smoke: $*"; }
start=$(date +%s)

# 1. What machine this is (the log is the record when the rest fails).
nvidia-smi || say "nvidia-smi failed"

# 2. A venv over the preinstalled packages. python3 there is itself a venv (/opt/torch/.venv),
#    and --system-site-packages only exposes the *base* interpreter's packages, so when torch does
#    not import, a .pth file adds python3's own site-packages (addsitedir: their .pth files too).
venv="${GPU_SMOKE_VENV:-$repo/.venv-gpu}"
if [ -z "${GPU_SMOKE_VENV:-}" ] && [ ! -x "$venv/bin/python" ]; then
    python3 -m venv --system-site-packages "$venv" || { say "python3 -m venv failed"; exit 1; }
    if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
        sp=$("$venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
        python3 -c "import site; print('import site; ' + '; '.join(f'site.addsitedir({p!r})' for p in site.getsitepackages()))" \
            >"$sp/_gpu_smoke_parent.pth"
    fi
fi
py="$venv/bin/python"
"$py" - "$device" <<'PY' || { say "the venv cannot run the stages"; exit 1; }
import sys
import accelerate, numpy, PIL, safetensors, tokenizers, torch, transformers  # everything the stages import
print(f"python {sys.version.split()[0]} ({sys.executable}), torch {torch.__version__} (CUDA {torch.version.cuda}), "
      f"transformers {transformers.__version__}, accelerate {accelerate.__version__}")
try:
    import torchvision
    print(f"torchvision {torchvision.__version__}")
except Exception as err:
    print(f"torchvision does not import: {err}")
ok = torch.cuda.is_available()
print(f"torch.cuda.is_available(): {ok}" + (f", {torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}" if ok else ""))
if sys.argv[1] == "cuda":
    assert ok, "no CUDA device visible to torch"
    assert float(torch.ones(4, device="cuda").sum()) == 4.0
PY

# 3. The stock Qwen2VLProcessor (torchvision) round trip: build, save, AutoProcessor reload,
#    same tokens and pixels. If it breaks, the chain runs with the image-only shim instead, so the
#    CUDA answer still comes back (the log says why).
proc=$(OMP_NUM_THREADS=1 PYTHONPATH=python PYTHONDONTWRITEBYTECODE=1 "$py" - <<'PY'
import sys, tempfile, traceback
try:
    import torch
    from PIL import Image
    from transformers import AutoProcessor
    from workbench_smoke import vlm
    kind = vlm.processor_kind()
    built = vlm.build_processor(["In this image there is one red circle."])
    with tempfile.TemporaryDirectory() as d:
        built.save_pretrained(d)
        back = AutoProcessor.from_pretrained(d)
    img, turns = Image.new("RGB", (56, 56), (200, 30, 30)), [("user", "What colour is it?"), ("assistant", None)]
    a, b = vlm.encode(built, img, turns), vlm.encode(back, img, turns)
    pad_id = built.tokenizer.convert_tokens_to_ids(vlm.IMAGE_PAD)
    ids = torch.equal(a["input_ids"], b["input_ids"]) and built.image_token_id == back.image_token_id == pad_id
    px = a["pixel_values"].shape == b["pixel_values"].shape and torch.allclose(a["pixel_values"], b["pixel_values"], atol=1e-5)
    print(f"processor {kind}: built {type(built).__name__}, reloaded {type(back).__name__} with "
          f"{type(back.image_processor).__name__}; ids equal {ids}, pixels close {px}", file=sys.stderr)
    ok = type(back).__name__ in vlm.PROCESSOR_CLASSES and ids and px
    print(kind if ok else "shim")
except Exception:
    traceback.print_exc()
    print("shim")
PY
)
[ "$proc" = stock ] || { proc=shim; export WORKBENCH_SMOKE_PROCESSOR=shim; }
say "processor for the chain: $proc"

# 4. The workbench binary must run here: a plain Swift build links the Swift runtime dynamically,
#    so carry the bundle from scripts/pack-for-gpu.sh (static runtime, its libraries under lib/,
#    found through the binary's RPATH only, so the stages' Python never loads them).
case "$bin" in *.tar.xz)
    bundle=$(mktemp -d /tmp/wb-bundle.XXXXXX)
    tar -C "$bundle" -xJf "$bin" || { say "cannot unpack $bin"; exit 69; }
    bin="$bundle/workbench" ;;
esac
[ -x "$bin" ] || { say "no workbench binary at $bin"; exit 69; }
missing=$(ldd "$bin" 2>&1 | grep "not found")
if [ -n "$missing" ]; then say "$bin cannot run here; missing shared libraries:"; echo "$missing"; exit 69; fi
"$bin" --version >/dev/null || { say "$bin does not start"; exit 69; }

# 5. A scratch workspace (an empty store, so every stage really runs; the device variable is not
#    in the fingerprint): the spec, the stage code, and the venv as .venv-ml (the spec's python).
ws=$(mktemp -d /tmp/wb-gpu.XXXXXX)
cp -r experiments python "$ws/" && ln -s "$venv" "$ws/.venv-ml"
if command -v git >/dev/null; then  # code provenance, as smoke-check records it
    git -C "$ws" init -q && git -C "$ws" add -A && git -C "$ws" -c user.name=gpu-smoke -c user.email=gpu-smoke@example.invalid commit -qm gpu-smoke
fi
if [ "$dry" = 1 ]; then
    "$bin" plan smoke --workspace "$ws"; rc=$?
    say "dry run: plan exit $rc, workspace $ws, $(( $(date +%s) - start )) s"; exit $rc
fi

# 6. The run. Stages inherit this environment (WORKBENCH_SMOKE_DEVICE reaches them); the timeout
#    (INT: the workbench stops its stages and records the run) keeps the script inside its budget.
export WORKBENCH_SMOKE_DEVICE="$device" PYTHONUNBUFFERED=1
t0=$(date +%s)
timeout -s INT -k 30 "${GPU_SMOKE_TIMEOUT:-400}" "$bin" reproduce smoke --workspace "$ws" 2>&1 | tee "$ws.log"
rc=${PIPESTATUS[0]}
t1=$(date +%s)
show=$("$bin" show latest --workspace "$ws" 2>&1)
echo "$show"
# Every torch stage emits device/cuda (1 on CUDA); count them over the attempts' metric files.
metrics=$(find "$ws/.workbench/runs" -name metrics.jsonl -exec cat {} + 2>/dev/null)
cuda=$(grep -c '"device/cuda", "value": 1.0' <<<"$metrics")
cpu=$(grep -c '"device/cuda", "value": 0.0' <<<"$metrics")
if [ "$device" = cuda ] && [ "$cpu" -gt 0 ]; then say "$cpu stage(s) ran on CPU although cuda was asked for"; rc=1; fi
summary="reproduce exit $rc in $((t1 - t0)) s (device $device, processor $proc); device/cuda=1 from $cuda stage(s), =0 from $cpu; script total $((t1 - start)) s"
say "$summary"
if [ -n "$out" ]; then
    echo "$summary" >"$out/timings.txt"
    grep -E "^time:|slowest:|\] (done|failed)" "$ws.log" >>"$out/timings.txt"  # per-stage wall
    echo "$show" >"$out/show-latest.txt"
    cat "$ws"/.workbench/reports/*.md >"$out/reports.md" 2>/dev/null
    cat "$ws"/.workbench/reports/*.csv >"$out/reports.csv" 2>/dev/null
    tar -czf "$out/stage-logs.tar.gz" -C "$ws/.workbench" runs  # command.sh, logs, metrics per attempt
    rm -rf "$ws" "$ws.log"
else
    say "workspace kept: $ws"
fi
exit $rc
