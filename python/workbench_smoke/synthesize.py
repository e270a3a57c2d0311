"""synthesize: generate instruction / precise / informative triplets for every image-caption
pair with the tuned synthesizer (transformers `generate` standing in for vLLM).

The prompt is upstream's: image + "Describe the image." / caption, then an open user turn.
Diversity: --samples continuations per pair, sampled at --temperature with a fixed seed
(vLLM's n>1 sampling; greedy decoding gives one question per caption). Output rows follow
tasks.py with pred = null. Metrics: synth/parsed, synth/total, synth/parse_rate, synth/tasks.
"""
from __future__ import annotations

import os

from . import common, tasks, world

STAGE = "synthesize"


def main(argv: list[str] | None = None) -> None:
    p = common.stage_parser("synthesize", __doc__)
    p.add_argument("--synth", required=True, help="train_synthesizer's model directory")
    p.add_argument("--pairs", required=True, help="directory holding image_caption_pairs.json")
    p.add_argument("--out", required=True, help="triplets JSONL to write")
    p.add_argument("--samples", type=int, default=3, help="continuations per pair (default 3)")
    p.add_argument("--temperature", type=float, default=0.3)
    p.add_argument("--max-new-tokens", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    dev = common.start_torch_stage(STAGE, a.seed)
    from . import metrics, vlm
    model, processor = vlm.load(a.synth)
    model.to(dev)  # vlm.generate moves each batch to the model's device
    common.report_device(STAGE, dev)
    pairs = tasks.load_pairs(a.pairs)
    encoded, owners = [], []
    for i, pair in enumerate(pairs):
        img = vlm.load_image(os.path.join(a.pairs, pair["images"][0]))
        enc = vlm.encode(processor, img, [("user", world.CAPTION_HINT), ("assistant", tasks.caption_of(pair))],
                         open_user=True)
        for _ in range(a.samples):
            encoded.append(enc)
            owners.append(i)
    outs = vlm.generate(model, processor, encoded, a.max_new_tokens, batch_size=32, sample=a.samples > 1,
                        temperature=a.temperature, seed=a.seed, eos=vlm.PAD, keep_special=True)
    rows, parsed, seen = [], 0, set()
    for owner, text in zip(owners, outs):
        triplets = tasks.collect_triplets(tasks.parse_qa(text), world.PRECISE_HINT, world.INFORMATIVE_HINT)
        parsed += bool(triplets)
        for t in triplets:
            key = (owner, t["Q"])
            if key in seen:
                continue
            seen.add(key)
            rows.append(tasks.make_row(len(rows), pairs[owner], t["Q"], t["precise_A"], t["informative_A"],
                                       "synth"))
    common.write_jsonl(a.out, rows)
    total = len(outs)
    metrics.emit("synth/parsed", parsed)
    metrics.emit("synth/total", total)
    metrics.emit("synth/parse_rate", parsed / total if total else 0.0)
    metrics.emit("synth/tasks", len(rows))
    print(f"synthesize: parsed {parsed}/{total} generations, {len(rows)} distinct tasks -> {a.out}")


if __name__ == "__main__":
    common.run_stage(STAGE, main)
