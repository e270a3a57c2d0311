"""train: fine-tune a FRESH tiny Qwen2-VL on formatted ShareGPT data (format's output).

  single  one run over `image_caption_and_synthetic_task`; checkpoints in OUT/checkpoint-*.
  two     captions first (OUT/stage1, saved to OUT/stage1/final), then tasks (OUT/stage2),
          the step budget split between the stages by their number of conversations.
A re-run resumes from the last checkpoint found (disable with --no-resume), so an interrupted
stage continues where it stopped. The final model + processor go to OUT/final.
Metrics: train/loss (series), train/final_loss, train/seconds, device/cuda (1 when trained on
CUDA: $WORKBENCH_SMOKE_DEVICE = cpu (default) | cuda | auto).
"""
from __future__ import annotations

import argparse
import os
import sys

from . import common

STAGE = "train"


def load_datasets(data_dir: str) -> dict[str, list[dict]]:
    info = common.read_json(os.path.join(data_dir, "dataset_info.json"))
    out = {}
    for name, spec in info.items():
        if spec.get("formatting") != "sharegpt":
            raise common.StageError(f"{data_dir}/dataset_info.json: {name}: only sharegpt is supported")
        out[name] = common.read_json(os.path.join(data_dir, spec["file_name"]))
    return out


def to_turns(entry: dict) -> list[tuple[str, str]]:
    turns = [(m["role"], m["content"]) for m in entry["messages"]]
    role, text = turns[0]
    turns[0] = (role, text.replace("<image>\n", "").replace("<image>", ""))
    return turns


def encode_all(processor, data_dir: str, entries: list[dict]) -> list[dict]:
    from . import vlm

    return [vlm.encode(processor, vlm.load_image(os.path.join(data_dir, e["images"][0])), to_turns(e))
            for e in entries]


def main(argv: list[str] | None = None) -> None:
    p = common.stage_parser("train", __doc__)
    p.add_argument("--data", required=True, help="format's output directory (dataset_info.json)")
    p.add_argument("--pipeline", required=True, choices=["single", "two"])
    p.add_argument("--out", required=True, help="output directory (checkpoints, final/)")
    p.add_argument("--steps", type=int, default=400, help="optimizer steps in total (default 400)")
    p.add_argument("--model-size", choices=["a", "b"], default="a", help="size preset (default a)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--save-steps", type=int, default=None, help="checkpoint interval (default steps/2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                   help="resume from the last checkpoint in --out if present (default on)")
    a = p.parse_args(argv)
    if a.steps < 1:
        raise common.StageError("--steps must be >= 1", common.EXIT_USAGE)
    dev = common.start_torch_stage(STAGE, a.seed)
    from . import hf_train, metrics, vlm
    common.report_device(STAGE, dev)
    datasets = load_datasets(a.data)
    names = list(datasets)
    want = 1 if a.pipeline == "single" else 2
    if len(names) != want:
        raise common.StageError(f"{a.data}: pipeline {a.pipeline} needs {want} dataset(s), found {names}")
    texts = [m["content"] for d in datasets.values() for e in d for m in e["messages"]]
    hp = dict(lr=a.lr, batch_size=a.batch_size, seed=a.seed, resume=a.resume, device=dev)

    def collate_for(processor):
        pad = processor.tokenizer.convert_tokens_to_ids(vlm.PAD)
        return lambda batch: vlm.collate(batch, pad, processor.image_token_id)

    if a.pipeline == "single":
        processor = vlm.build_processor(texts)
        model = vlm.build_model(processor, a.model_size, a.seed)
        items = encode_all(processor, a.data, datasets[names[0]])
        r = hf_train.train(model, items, collate_for(processor), a.out, a.steps,
                           save_steps=a.save_steps, **hp)
        losses, seconds = r["losses"], r["seconds"]
    else:
        sizes = [len(datasets[n]) for n in names]
        s1 = max(1, round(a.steps * sizes[0] / sum(sizes)))
        s2 = max(1, a.steps - s1)
        stage1, stage1_final = os.path.join(a.out, "stage1"), os.path.join(a.out, "stage1", "final")
        if a.resume and os.path.isfile(os.path.join(stage1_final, "config.json")):
            print(f"stage 1 already done: {stage1_final}")
            losses1, seconds = [], 0.0
        else:
            processor = vlm.build_processor(texts)
            model = vlm.build_model(processor, a.model_size, a.seed)
            items = encode_all(processor, a.data, datasets[names[0]])
            r = hf_train.train(model, items, collate_for(processor), stage1, s1, **hp)
            vlm.save(model, processor, stage1_final)
            losses1, seconds = r["losses"], r["seconds"]
        model, processor = vlm.load(stage1_final)
        model.train()
        items = encode_all(processor, a.data, datasets[names[1]])
        r = hf_train.train(model, items, collate_for(processor), os.path.join(a.out, "stage2"), s2,
                           step_offset=s1, **hp)  # one continuous train/loss series
        losses, seconds = losses1 + r["losses"], seconds + r["seconds"]
    final = os.path.join(a.out, "final")
    vlm.save(model, processor, final)
    if losses:
        metrics.emit("train/final_loss", losses[-1][1])
    metrics.emit("train/seconds", seconds)
    first = f"{losses[0][1]:.3f}" if losses else "n/a"
    last = f"{losses[-1][1]:.3f}" if losses else "n/a"
    print(f"train: {a.pipeline} size {a.model_size}: {a.steps} steps, loss {first} -> {last}, "
          f"{seconds:.1f}s -> {final}")


if __name__ == "__main__":
    common.run_stage(STAGE, main)
    sys.exit(0)
