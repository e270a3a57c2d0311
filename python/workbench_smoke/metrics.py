"""Metrics protocol read by the workbench.

When WORKBENCH_METRICS names a file, every call appends one JSON object per line:
  {"name": "eval/accuracy", "value": 0.81}                 (a scalar)
  {"name": "train/loss", "step": 10, "value": 1.23}        (a point of a series)
When the variable is unset, nothing is written.
"""
from __future__ import annotations

import json
import math
import os


def emit(name: str, value: float, step: int | None = None) -> None:
    """Append one metric line to $WORKBENCH_METRICS (no-op when unset)."""
    path = os.environ.get("WORKBENCH_METRICS")
    if not path:
        return
    value = float(value)
    if not math.isfinite(value):
        # JSON has no NaN/inf; the reader would reject the line.
        return
    record = {"name": name}
    if step is not None:
        record["step"] = int(step)
    record["value"] = value
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    # One write() of a short line in append mode: concurrent writers do not interleave.
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
