"""gen_data: draw image-caption pairs and a held-out VQA benchmark.

Outputs
  OUT_PAIRS/image_caption_pairs.json   upstream format: a JSON list of
      {"images": ["images/pair_0000.png"], "messages": [{"content": "<image>...", "role": "user"},
                                                       {"content": CAPTION, "role": "assistant"}]}
      (image paths relative to the JSON file's directory)
  OUT_PAIRS/images/*.png
  OUT_BENCH/benchmark.jsonl            one row per question, upstream prediction-input style:
      OPEN/CLOSED rows (SLAKE-like):  {"syn_id", "image", "input", "label", "answer_type"}
      multiple choice (PMC-VQA-like): {"syn_id", "image", "input", "label": "B", "A", "B", "C", "D"}
  OUT_BENCH/images/*.png
No torch needed.
"""
from __future__ import annotations

import os
import random

from . import common, metrics, world

# Benchmark question mix: 3 OPEN kinds, 2 CLOSED kinds, 2 multiple-choice kinds.
BENCH_KINDS = ("colour", "yesno_colour", "mc_colour", "shape", "yesno_shape", "mc_shape", "count")


def make_pairs(out_dir: str, n: int, seed: int) -> list[dict]:
    rng = random.Random(f"{seed}-pairs")
    os.makedirs(os.path.join(out_dir, "images"), exist_ok=True)
    pairs = []
    for i in range(n):
        scene = world.random_scene(rng)
        rel = f"images/pair_{i:04d}.png"
        world.draw(scene, rng).save(os.path.join(out_dir, rel))
        pairs.append({
            "images": [rel],
            "messages": [
                {"content": "<image>" + rng.choice(world.CAPTION_INSTRUCTIONS), "role": "user"},
                {"content": world.caption(scene, rng), "role": "assistant"},
            ],
        })
    common.write_json(os.path.join(out_dir, "image_caption_pairs.json"), pairs)
    return pairs


def bench_row(syn_id: int, image: str, t: dict) -> dict:
    if t["answer_type"] == "CHOICE":
        return {"syn_id": syn_id, "image": image, "input": t["Q"], "label": t["label"], **t["options"]}
    return {"syn_id": syn_id, "image": image, "input": t["Q"], "label": t["precise_A"],
            "answer_type": t["answer_type"]}


def make_bench(out_dir: str, m: int, seed: int) -> list[dict]:
    rng = random.Random(f"{seed}-bench")
    os.makedirs(os.path.join(out_dir, "images"), exist_ok=True)
    rows = []
    for i in range(m):
        scene = world.random_scene(rng)
        rel = f"images/bench_{i:04d}.png"
        world.draw(scene, rng).save(os.path.join(out_dir, rel))
        rows.append(bench_row(i, rel, world.task(scene, BENCH_KINDS[i % len(BENCH_KINDS)], rng)))
    common.write_jsonl(os.path.join(out_dir, "benchmark.jsonl"), rows)
    return rows


def main(argv: list[str] | None = None) -> None:
    p = common.stage_parser("gen_data", __doc__)
    p.add_argument("--out-pairs", required=True, help="directory for image_caption_pairs.json + images/")
    p.add_argument("--out-bench", required=True, help="directory for benchmark.jsonl + images/")
    p.add_argument("--n-train", type=int, default=96, help="image-caption pairs (default 96)")
    p.add_argument("--n-bench", type=int, default=56, help="benchmark questions (default 56)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if a.n_train < 1 or a.n_bench < 1:
        raise common.StageError("--n-train and --n-bench must be >= 1", common.EXIT_USAGE)
    pairs = make_pairs(a.out_pairs, a.n_train, a.seed)
    rows = make_bench(a.out_bench, a.n_bench, a.seed)
    metrics.emit("data/pairs", len(pairs))
    metrics.emit("data/bench", len(rows))
    print(f"gen_data: {len(pairs)} pairs -> {a.out_pairs}, {len(rows)} benchmark questions -> {a.out_bench}")


if __name__ == "__main__":
    common.run_stage("gen_data", main)
