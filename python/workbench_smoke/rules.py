"""rules: the paper's manual-rules baseline. Tasks are filled into templates from the caption
text alone (no model), written in the same JSONL schema as filter's output (see tasks.py)."""
from __future__ import annotations

import argparse
import random

from . import common, metrics, tasks, world


def rule_tasks(pairs: list[dict], per_image: int, seed: int) -> list[dict]:
    rng = random.Random(f"{seed}-rules")
    rows = []
    for pair, t in tasks.templated_tasks(pairs, per_image, rng):
        rows.append(tasks.make_row(len(rows), pair, t["Q"], t["precise_A"], t["informative_A"],
                                   "rules", pred="Yes"))
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m workbench_smoke.rules", description=__doc__)
    p.add_argument("--pairs", required=True, help="directory holding image_caption_pairs.json")
    p.add_argument("--out", required=True, help="tasks JSONL to write")
    p.add_argument("--per-image", type=int, default=3, help="tasks per image (default 3, max 7)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if not 1 <= a.per_image <= len(world.TASK_KINDS):
        raise common.StageError(f"--per-image must be in 1..{len(world.TASK_KINDS)}", common.EXIT_USAGE)
    pairs = tasks.load_pairs(a.pairs)
    rows = rule_tasks(pairs, a.per_image, a.seed)
    common.write_jsonl(a.out, rows)
    metrics.emit("rules/tasks", len(rows))
    print(f"rules: {len(rows)} tasks from {len(pairs)} captions -> {a.out}")


if __name__ == "__main__":
    common.run_stage("rules", main)
