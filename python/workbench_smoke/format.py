"""format: tasks JSONL + image-caption pairs -> LLaMA-Factory ShareGPT data with dataset_info.json.

  --pipeline single  one dataset `image_caption_and_synthetic_task`: per kept task one
                     conversation holding the image's caption task and that task (as upstream,
                     which pairs each image's caption with its one consistent task); the caption
                     exchange goes first or last by random.Random(index), as upstream does.
                     Images without a kept task keep their caption-only conversation.
  --pipeline two     two datasets, trained in order: `image_caption` (one caption conversation
                     per image), then `synthetic_task` (one conversation per kept task).
Only rows whose consistency verdict `pred` is "yes" (any case) are used, as upstream. The task
answer follows upstream's rule: the informative answer alone when its last sentence holds a
conclusion word ("so ", "therefore ", ...), else informative + precise.
Images are copied to OUT/images so OUT is self-contained (LLaMA-Factory's dataset_dir).
"""
from __future__ import annotations

import os
import random
import shutil
from collections import defaultdict

from . import common, metrics, tasks

INDICATORS = ("could be ", "so ", "thus ", "therefore ", "final ", "answer ", "result ")
IMAGE_TOKEN = "<image>"


def dataset_entry(file_name: str) -> dict:
    return {"file_name": file_name, "formatting": "sharegpt",
            "columns": {"messages": "messages", "images": "images"},
            "tags": {"role_tag": "role", "content_tag": "content",
                     "user_tag": "user", "assistant_tag": "assistant"}}


def task_answer(precise: str, informative: str) -> str:
    last = informative.strip().lower().split(". ")[-1]
    if any(ind in last for ind in INDICATORS):
        return informative
    return f"{informative} {precise}"


def caption_turns(pair: dict) -> list[dict]:
    q = pair["messages"][0]["content"].replace(IMAGE_TOKEN + "\n", "").replace(IMAGE_TOKEN, "")
    return [{"content": q, "role": "user"}, {"content": pair["messages"][1]["content"], "role": "assistant"}]


def task_turns(rows: list[dict]) -> list[dict]:
    out = []
    for r in rows:
        out += [{"content": r["instruction"], "role": "user"},
                {"content": task_answer(r["precise"], r["informative"]), "role": "assistant"}]
    return out


def entry(messages: list[dict], image: str) -> dict:
    messages = [dict(m) for m in messages]
    messages[0]["content"] = f"{IMAGE_TOKEN}\n{messages[0]['content']}"
    return {"messages": messages, "images": [image]}


def build(pairs: list[dict], rows: list[dict], pipeline: str) -> dict[str, list[dict]]:
    by_image = defaultdict(list)
    for r in rows:
        if str(r.get("pred") or "").strip().lower() == "yes":
            by_image[r["image"]].append(r)
    if pipeline == "single":
        data = []
        for pair in pairs:
            image = pair["images"][0]
            # Upstream keeps the caption task even when an image's synthetic task was rejected.
            for task in by_image.get(image) or [None]:
                cap, syn = caption_turns(pair), task_turns([task] if task else [])
                place = random.Random(len(data)).choice(["start", "end"])
                data.append(entry(cap + syn if place == "start" else syn + cap, image))
        return {"image_caption_and_synthetic_task": data}
    captions = [entry(caption_turns(p), p["images"][0]) for p in pairs]
    synthetic = [entry(task_turns([t]), p["images"][0]) for p in pairs for t in by_image.get(p["images"][0], [])]
    return {"image_caption": captions, "synthetic_task": synthetic}


def main(argv: list[str] | None = None) -> None:
    p = common.stage_parser("format", __doc__)
    p.add_argument("--tasks", required=True, help="tasks JSONL (filter or rules output)")
    p.add_argument("--pairs", required=True, help="directory holding image_caption_pairs.json")
    p.add_argument("--pipeline", required=True, choices=["single", "two"])
    p.add_argument("--out", required=True, help="output directory (dataset_dir for LLaMA-Factory)")
    a = p.parse_args(argv)
    pairs = tasks.load_pairs(a.pairs)
    rows = common.read_jsonl(a.tasks)
    datasets = build(pairs, rows, a.pipeline)
    os.makedirs(os.path.join(a.out, "images"), exist_ok=True)
    for pair in pairs:
        src = os.path.join(a.pairs, pair["images"][0])
        if not os.path.isfile(src):
            raise common.StageError(f"missing image {src}")
        shutil.copyfile(src, os.path.join(a.out, pair["images"][0]))
    info = {}
    for name, data in datasets.items():
        common.write_json(os.path.join(a.out, f"{name}.json"), data)
        info[name] = dataset_entry(f"{name}.json")
    common.write_json(os.path.join(a.out, "dataset_info.json"), info)
    n_tasks = sum(len(e["messages"]) // 2 for e in datasets.get("synthetic_task", [])) if a.pipeline == "two" \
        else sum(len(e["messages"]) // 2 - 1 for e in datasets["image_caption_and_synthetic_task"])
    metrics.emit("format/tasks", n_tasks)
    metrics.emit("format/conversations", sum(len(d) for d in datasets.values()))
    print(f"format: {a.pipeline}: " + ", ".join(f"{k} ({len(v)} conversations)" for k, v in datasets.items())
          + f", {n_tasks} tasks -> {a.out}")


if __name__ == "__main__":
    common.run_stage("format", main)
