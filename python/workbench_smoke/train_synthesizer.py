"""train_synthesizer: warm-start a tiny Qwen2-VL visual-instruction synthesizer.

Upstream tunes LLaVA on (image, caption) -> task-triplet conversations: the caption exchange
("Describe the image." / caption) is the prompt, and the model learns to write the rest:
  user "Answer with a precise response.\\n{Q}"      assistant {precise answer}
  user "Answer with an informative response.\\n{Q}" assistant {informative answer}
Here the seed triplets are templated from each caption (the stand-in for Vision-FLAN/ALLaVA
seed data). Every token after the caption exchange is trained, questions included, ending in
<|endoftext|>. Saves model + processor to OUT. Metrics: synth_train/loss (series).
"""
from __future__ import annotations

import argparse
import os
import random

from . import common, tasks, world

STAGE = "train_synthesizer"


def seed_conversations(pairs: list[dict], per_image: int, seed: int) -> list[tuple[str, list]]:
    rng = random.Random(f"{seed}-synth")
    convs = []
    for pair, t in tasks.templated_tasks(pairs, per_image, rng):
        qa = [(world.PRECISE_HINT, t["precise_A"]), (world.INFORMATIVE_HINT, t["informative_A"])]
        rng.shuffle(qa)  # upstream shuffles precise and informative QAs
        turns = [("user", world.CAPTION_HINT), ("assistant", tasks.caption_of(pair))]
        for hint, answer in qa:
            turns += [("user", f"{hint}\n{t['Q']}"), ("assistant", answer)]
        convs.append((pair["images"][0], turns))
    return convs


def main(argv: list[str] | None = None) -> None:
    p = common.stage_parser("train_synthesizer", __doc__)
    p.add_argument("--pairs", required=True, help="directory holding image_caption_pairs.json")
    p.add_argument("--out", required=True, help="model directory to write")
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--per-image", type=int, default=3, help="seed triplets per image (default 3)")
    p.add_argument("--model-size", choices=["a", "b"], default="b",
                   help="size preset (default b: the larger model copies questions more reliably)")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True)
    a = p.parse_args(argv)
    dev = common.start_torch_stage(STAGE, a.seed)
    from . import hf_train, metrics, vlm
    common.report_device(STAGE, dev)
    pairs = tasks.load_pairs(a.pairs)
    convs = seed_conversations(pairs, a.per_image, a.seed)
    processor = vlm.build_processor([t for _, turns in convs for _, t in turns])
    model = vlm.build_model(processor, a.model_size, a.seed)
    items = [vlm.encode(processor, vlm.load_image(os.path.join(a.pairs, img)), turns, label_from=2, end=True)
             for img, turns in convs]
    pad = processor.tokenizer.convert_tokens_to_ids(vlm.PAD)
    r = hf_train.train(model, items, lambda b: vlm.collate(b, pad, processor.image_token_id),
                       os.path.join(a.out, "checkpoints"), a.steps, lr=a.lr, batch_size=a.batch_size,
                       seed=a.seed, series="synth_train/loss", resume=a.resume, device=dev)
    model.generation_config.eos_token_id = pad  # synthesis stops at <|endoftext|>
    vlm.save(model, processor, a.out)
    if r["losses"]:
        metrics.emit("synth_train/final_loss", r["losses"][-1][1])
    print(f"train_synthesizer: {len(items)} seed conversations, {a.steps} steps, "
          f"final loss {r['losses'][-1][1] if r['losses'] else float('nan'):.3f}, {r['seconds']:.1f}s -> {a.out}")


if __name__ == "__main__":
    common.run_stage(STAGE, main)
