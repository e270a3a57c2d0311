"""The rehearsal's stand-in for the upstream vLLM inference (QA-Synthesizer vllm_inference/
inference.py), which has no CPU build: the same questions, asked the same way, answered by
transformers' `generate` instead of vLLM, written as the upstream predictions files.

    python -m workbench_rehearsal.infer --model DIR --model-type qwen2_vl|mllama --benchmark DIR
        --out DIR [--max-new-tokens N] TASK...

For each task: load_dataset(BENCHMARK, TASK, split="test") (the fetched snapshot, as the upstream
loads it by name); each row's `input` put in the model's chat template with its image, as the
upstream prompts do (Qwen2-VL: a system turn "You are a helpful assistant." then the user's image
and text; Llama-3.2-Vision: the user's image and text); greedy decoding (the upstream's
temperature 0), special tokens skipped. OUT/TASK.jsonl: one row per benchmark row, its fields but
the image, with `syn_id` (the row's index) and `pred`, the layout the upstream writes and
`workbench score` reads. The upstream generates up to 1024 new tokens; the rehearsal caps it
(--max-new-tokens, 48 by default) so an untrained tiny model cannot spend minutes per question.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import torch


def messages(model_type: str, question: str) -> list[dict]:
    if model_type == "qwen2_vl":
        return [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
    if model_type == "mllama":
        return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
    raise SystemExit(f"infer: model type {model_type!r} is not rehearsed (qwen2_vl, mllama)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--model-type", required=True)
    ap.add_argument("--benchmark", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("tasks", nargs="+")
    a = ap.parse_args()
    import datasets
    from transformers import AutoModelForVision2Seq, AutoProcessor

    torch.manual_seed(0)
    processor = AutoProcessor.from_pretrained(a.model)
    model = AutoModelForVision2Seq.from_pretrained(a.model, torch_dtype=torch.float32).eval()
    os.makedirs(a.out, exist_ok=True)
    for task in a.tasks:
        rows = list(datasets.load_dataset(a.benchmark, task, split="test"))
        if not rows:
            raise SystemExit(f"infer: {a.benchmark} has no test rows for {task}")
        path = os.path.join(a.out, f"{task}.jsonl")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            for i, row in enumerate(rows):
                prompt = processor.apply_chat_template(messages(a.model_type, row["input"]), tokenize=False,
                                                       add_generation_prompt=True)
                inputs = processor(text=[prompt], images=[row["image"].convert("RGB")], return_tensors="pt",
                                   add_special_tokens=False)
                with torch.no_grad():
                    out = model.generate(**inputs, max_new_tokens=a.max_new_tokens, do_sample=False)
                pred = processor.tokenizer.decode(out[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True)
                entry = {k: v for k, v in row.items() if k != "image"}
                f.write(json.dumps({**entry, "syn_id": i, "pred": pred.strip()}, ensure_ascii=False) + "\n")
        os.replace(path + ".tmp", path)
        print(f"infer: {task}: {len(rows)} predictions -> {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
