"""paper_tasks: the stand-in benchmark's predictions as the paper's task files, for the smoke
profile of the paper catalog (experiments/adamllm), so the native scorers (`workbench score`)
fill every paper table from CPU stand-ins.

  biomed  SLAKE, PathVQA, VQA_RAD <- the OPEN/CLOSED rows, dealt out by syn_id % 3 (all three
          tasks have the same format); PMC_VQA <- the multiple-choice rows.
  food    Recipe1M <- the count and yes/no rows (free text, scored by ROUGE-L);
          Food101 <- the shape rows, each shape named as a Food-101 class;
          FoodSeg103 / Nutrition5K <- the colour rows (even / odd syn_id), each colour named as an
          ingredient of that vocabulary.
The food names replace the stand-in words in the label and in the prediction alike, so a right
stand-in answer is a right food answer and a wrong one stays wrong. The numbers are stand-in
scores: they exercise the pipeline and the tables' layout, and are not comparable to the paper's.

Input: evaluate's predictions JSONL (benchmark rows + "pred"). Output: DIR/TASK.jsonl per task of
the domain, each row the upstream fields the scorer reads (syn_id, label, pred, and answer_type or
the A-D options). No torch needed.
"""
from __future__ import annotations

import os
import re

from . import common

TASKS = {
    "biomed": ("SLAKE", "PathVQA", "VQA_RAD", "PMC_VQA"),
    "food": ("Recipe1M", "Nutrition5K", "Food101", "FoodSeg103"),
}

# Stand-in words -> names in the food vocabularies (data/adamllm/*.json).
SHAPE_FOOD101 = {"circle": "pizza", "square": "waffles", "triangle": "nachos"}
COLOUR_FOODSEG103 = {"red": "tomato", "green": "broccoli", "blue": "blueberry", "yellow": "banana"}
COLOUR_NUTRITION5K = {"red": "tomatoes", "green": "broccoli", "blue": "blueberries", "yellow": "banana"}
PLURALS = {"circles": "circle", "squares": "square", "triangles": "triangle"}


def kind_of(row: dict) -> str:
    """colour | shape | count | yesno | choice, from the benchmark row's question."""
    if "A" in row and "answer_type" not in row:
        return "choice"
    q = row.get("input", "").lower()
    if row.get("answer_type") == "CLOSED":
        return "yesno"
    if q.startswith("what colour"):
        return "colour"
    if q.startswith("what shape"):
        return "shape"
    if q.startswith("how many"):
        return "count"
    raise common.StageError(f"paper_tasks: cannot tell the kind of question {row.get('input')!r} (syn_id {row.get('syn_id')})")


def rename(text: str, names: dict[str, str]) -> str:
    """Replaces whole stand-in words (and shape plurals) by their food names."""
    def sub(m: re.Match) -> str:
        word = m.group(0).lower()
        return names.get(PLURALS.get(word, word), m.group(0))
    return re.sub(r"[A-Za-z]+", sub, text)


def task_rows(rows: list[dict], domain: str) -> dict[str, list[dict]]:
    if domain not in TASKS:
        raise common.StageError(f"paper_tasks: unknown domain {domain!r} (domains: {', '.join(TASKS)})")
    out: dict[str, list[dict]] = {t: [] for t in TASKS[domain]}
    for r in rows:
        if "pred" not in r:
            raise common.StageError(f"paper_tasks: row syn_id {r.get('syn_id')} has no 'pred'")
        kind, pred = kind_of(r), str(r["pred"])
        base = {"syn_id": r["syn_id"]}
        if domain == "biomed":
            if kind == "choice":
                out["PMC_VQA"].append({**base, "label": r["label"], **{k: r[k] for k in "ABCD"}, "pred": pred})
            else:
                task = ("SLAKE", "PathVQA", "VQA_RAD")[int(r["syn_id"]) % 3]
                out[task].append({**base, "label": r["label"], "answer_type": r["answer_type"], "pred": pred})
            continue
        if kind == "shape":
            out["Food101"].append({**base, "label": SHAPE_FOOD101[r["label"]], "pred": rename(pred, SHAPE_FOOD101)})
        elif kind == "colour":
            if int(r["syn_id"]) % 2 == 0:
                out["FoodSeg103"].append({**base, "label": [COLOUR_FOODSEG103[r["label"]]], "pred": rename(pred, COLOUR_FOODSEG103)})
            else:
                out["Nutrition5K"].append({**base, "label": [COLOUR_NUTRITION5K[r["label"]]], "pred": rename(pred, COLOUR_NUTRITION5K)})
        elif kind in ("count", "yesno"):
            out["Recipe1M"].append({**base, "label": r["label"], "pred": pred})
        # multiple-choice rows have no food counterpart
    for task, task_list in out.items():
        if not task_list:
            raise common.StageError(f"paper_tasks: no benchmark row maps to {task} (is the benchmark too small?)")
    return out


def main(argv: list[str] | None = None) -> None:
    p = common.stage_parser("paper_tasks", __doc__)
    p.add_argument("--predictions", required=True, help="evaluate's predictions JSONL")
    p.add_argument("--domain", required=True, choices=sorted(TASKS))
    p.add_argument("--out", required=True, help="directory for TASK.jsonl files")
    a = p.parse_args(argv)
    rows = common.read_jsonl(a.predictions)
    os.makedirs(a.out, exist_ok=True)
    written = task_rows(rows, a.domain)
    for task, task_list in written.items():
        common.write_jsonl(os.path.join(a.out, f"{task}.jsonl"), task_list)
    print("paper_tasks: " + ", ".join(f"{t} {len(v)}" for t, v in written.items()) + f" -> {a.out}")


if __name__ == "__main__":
    common.run_stage("paper_tasks", main)
