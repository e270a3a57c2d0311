"""evaluate: answer every benchmark question with a model reloaded from disk (or an untrained
model of a size preset, the baseline), write upstream-style predictions and score them.

Predictions JSONL: the benchmark row + "pred" (upstream's prediction field) + the per-example
score fields upstream writes ("score": {"recall"|"yes/no accuracy"}, or "acc", "pred_option",
"random_selected" for multiple choice).
Metrics (fractions in [0, 1]): eval/open_recall, eval/closed_acc, eval/mc_acc, eval/mean; and
device/cuda (1 when generating on CUDA: $WORKBENCH_SMOKE_DEVICE = cpu (default) | cuda | auto).
"""
from __future__ import annotations

import os

from . import common, scorer

STAGE = "evaluate"


def main(argv: list[str] | None = None) -> None:
    p = common.stage_parser("evaluate", __doc__)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="saved model directory (e.g. train's OUT/final)")
    src.add_argument("--untrained-size", choices=["a", "b"], help="baseline: a fresh untrained model")
    p.add_argument("--bench", required=True, help="directory holding benchmark.jsonl + images/")
    p.add_argument("--out", required=True, help="predictions JSONL to write")
    p.add_argument("--tasks-dir", help="also write the predictions as upstream task files: DIR/SLAKE.jsonl "
                   "(OPEN/CLOSED rows) and DIR/PMC_VQA.jsonl (multiple choice), for `workbench score`")
    p.add_argument("--max-new-tokens", type=int, default=24)
    p.add_argument("--batch-size", type=int, default=28)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    dev = common.start_torch_stage(STAGE, a.seed)
    from . import metrics, vlm
    rows = common.read_jsonl(os.path.join(a.bench, "benchmark.jsonl"))
    if not rows:
        raise common.StageError(f"{a.bench}/benchmark.jsonl is empty")
    if a.model:
        model, processor = vlm.load(a.model)
    else:
        processor = vlm.build_processor([r["input"] for r in rows])
        model = vlm.build_model(processor, a.untrained_size, a.seed)
        model.eval()
    model.to(dev)  # vlm.generate moves each batch to the model's device
    common.report_device(STAGE, dev)
    encoded = [vlm.encode(processor, vlm.load_image(os.path.join(a.bench, r["image"])),
                          [("user", r["input"]), ("assistant", None)]) for r in rows]
    preds = vlm.generate(model, processor, encoded, a.max_new_tokens, batch_size=a.batch_size)
    out_rows = []
    for r, pred in zip(rows, preds):
        row = dict(r, pred=pred.strip())
        row.update(scorer.score_row(row))
        out_rows.append(row)
    common.write_jsonl(a.out, out_rows)
    if a.tasks_dir:
        write_task_files(a.tasks_dir, rows, preds)
    s = scorer.aggregate(out_rows)
    for key in ("open_recall", "closed_acc", "mc_acc", "mean"):
        metrics.emit(f"eval/{key}", s[key])
    what = a.model or f"untrained size {a.untrained_size}"
    print(f"evaluate: {what}: open_recall {s['open_recall']:.3f} (n={s['n_open']}), closed_acc "
          f"{s['closed_acc']:.3f} (n={s['n_closed']}), mc_acc {s['mc_acc']:.3f} (n={s['n_mc']}), "
          f"mean {s['mean']:.3f} -> {a.out}")


def write_task_files(directory: str, rows: list[dict], preds: list[str]) -> None:
    """The upstream inference's output layout: one file per task, each row the benchmark row
    without its image plus "pred" (what upstream's scorer reads)."""
    os.makedirs(directory, exist_ok=True)
    by_task: dict[str, list[dict]] = {"SLAKE": [], "PMC_VQA": []}
    for r, pred in zip(rows, preds):
        row = {k: v for k, v in r.items() if k != "image"}
        row["pred"] = pred.strip()
        by_task["PMC_VQA" if scorer.is_choice(r) else "SLAKE"].append(row)
    for task, task_rows in by_task.items():
        if task_rows:
            common.write_jsonl(os.path.join(directory, f"{task}.jsonl"), task_rows)


if __name__ == "__main__":
    common.run_stage(STAGE, main)
