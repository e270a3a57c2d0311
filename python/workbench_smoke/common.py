"""Shared plumbing: offline flags, exit codes, atomic file writes, seeds, checkpoint checks."""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from typing import Callable, Iterable

# Nothing in the chain may reach a hub: every model, tokenizer and data file is local.
for _key, _value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "TRANSFORMERS_VERBOSITY": "error",
}.items():
    os.environ[_key] = _value
# cuBLAS only computes matmuls deterministically (as use_deterministic_algorithms asks) with a
# fixed workspace; it reads this when it starts, i.e. on CUDA only. Ignored on CPU.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

# cpu (the default when unset) | cuda | auto (cuda if torch sees one, else cpu).
DEVICE_ENV = "WORKBENCH_SMOKE_DEVICE"

EXIT_USAGE = 2
EXIT_NO_TORCH = 3
EXIT_EMPTY = 4
EXIT_CORRUPT = 5
SETUP_HINT = "scripts/setup-ml.sh"


class StageError(Exception):
    """An expected failure: one line on stderr and a specific exit code."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def run_stage(name: str, main: Callable[[list[str] | None], None], argv: list[str] | None = None) -> None:
    """Run a stage's main, mapping StageError to its exit code with a one-line message."""
    try:
        main(argv)
    except StageError as err:
        print(f"{name}: error: {err}", file=sys.stderr)
        sys.exit(err.code)


def require_torch(stage: str) -> None:
    """Exit 3 with a one-line hint when torch is not importable."""
    try:
        import torch  # noqa: F401
    except ImportError as err:
        print(f"{stage}: error: PyTorch is not importable ({err}); create the environment with "
              f"{SETUP_HINT} and run with its python (.venv-ml/bin/python)", file=sys.stderr)
        sys.exit(EXIT_NO_TORCH)


def stage_parser(name: str, doc: str | None) -> argparse.ArgumentParser:
    """The argument parser of `python -m workbench_smoke.NAME`, its docstring as the help text."""
    return argparse.ArgumentParser(prog=f"python -m workbench_smoke.{name}", description=doc,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def start_torch_stage(stage: str, seed: int):
    """Exit 3 without torch; else seed every RNG and return the device the stage runs on."""
    require_torch(stage)
    dev = device()
    seed_everything(seed)
    return dev


def seed_everything(seed: int) -> None:
    """Fix every RNG we use; deterministic kernels where torch supports them."""
    random.seed(seed)
    import numpy as np
    import torch

    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds every CUDA device too
    torch.cuda.manual_seed_all(seed)  # explicit; lazy (queued until CUDA starts), a no-op without CUDA
    torch.use_deterministic_algorithms(True, warn_only=True)
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def device():
    """The torch device named by $WORKBENCH_SMOKE_DEVICE (cpu when unset; exit 2 on a bad value).

    `cpu` never touches CUDA, so CPU runs stay exactly as they were; `cuda` fails (exit 1) when
    torch sees no GPU; `auto` picks cuda:0 when available. Models stay fp32 on every device.
    """
    want = (os.environ.get(DEVICE_ENV) or "cpu").strip().lower()
    if want not in ("cpu", "cuda", "auto"):
        raise StageError(f"{DEVICE_ENV}={want!r}: expected cpu, cuda or auto", EXIT_USAGE)
    import torch

    if want == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda", 0)
    if want == "auto":
        return torch.device("cpu")
    raise StageError(f"{DEVICE_ENV}=cuda but torch {torch.__version__} sees no CUDA device")


def report_device(stage: str, dev) -> None:
    """One stderr line naming the device, and the metric device/cuda (1 on CUDA, else 0)."""
    from . import metrics

    name = str(dev)
    if dev.type == "cuda":
        import torch

        name += f" ({torch.cuda.get_device_name(dev)}, torch {torch.__version__})"
    print(f"{stage}: device {name}", file=sys.stderr)
    metrics.emit("device/cuda", 1 if dev.type == "cuda" else 0)


# ---------------------------------------------------------------- files

def _atomic_write_text(path: str, text: str) -> None:
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: str, obj) -> None:
    _atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def write_jsonl(path: str, rows: Iterable[dict]) -> None:
    _atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def read_json(path: str):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise StageError(f"missing input file {path}")
    except json.JSONDecodeError as err:
        raise StageError(f"{path}: invalid JSON: {err}")


def read_jsonl(path: str) -> list[dict]:
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as err:
                        raise StageError(f"{path}:{lineno}: invalid JSON line: {err}")
    except FileNotFoundError:
        raise StageError(f"missing input file {path}")
    return rows


# ---------------------------------------------------------------- checkpoints

def check_checkpoint(model_dir: str) -> None:
    """Raise StageError(exit 5) naming the file when a saved model directory is unreadable.

    Opening each safetensors file validates its header against the file length, so a truncated
    or overwritten file fails here with a clear message instead of deep inside from_pretrained.
    """
    from safetensors import safe_open

    if not os.path.isdir(model_dir):
        raise StageError(f"model directory {model_dir} does not exist")
    config = os.path.join(model_dir, "config.json")
    if not os.path.isfile(config):
        raise StageError(f"corrupted checkpoint: {config} is missing", EXIT_CORRUPT)
    try:
        with open(config, encoding="utf-8") as f:
            json.load(f)
    except (OSError, json.JSONDecodeError) as err:
        raise StageError(f"corrupted checkpoint: {config}: {err}", EXIT_CORRUPT)
    weights = sorted(n for n in os.listdir(model_dir) if n.endswith(".safetensors"))
    if not weights:
        raise StageError(f"corrupted checkpoint: no *.safetensors file in {model_dir}", EXIT_CORRUPT)
    for name in weights:
        path = os.path.join(model_dir, name)
        try:
            with safe_open(path, framework="pt") as f:
                for key in f.keys():
                    f.get_slice(key)
        except Exception as err:  # safetensors raises its own error types
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise StageError(f"corrupted checkpoint: {path}: {reason}", EXIT_CORRUPT)
