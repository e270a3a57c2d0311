"""filter: the consistency filter. The tuned tiny Llama judges every synthesized triplet
(greedy, 2 new tokens, as upstream); only the verdict "yes" survives. Output rows follow
tasks.py with pred set to the verdict. Metrics: filter/kept, filter/total, filter/keep_rate.
Exit 4 (with the empty file written) when nothing survives.
"""
from __future__ import annotations

from . import common, judge

STAGE = "filter"


def main(argv: list[str] | None = None) -> None:
    p = common.stage_parser("filter", __doc__)
    p.add_argument("--judge", required=True, help="train_judge's model directory")
    p.add_argument("--tasks", required=True, help="synthesize's triplets JSONL")
    p.add_argument("--out", required=True, help="filtered tasks JSONL to write")
    p.add_argument("--batch-size", type=int, default=64)
    a = p.parse_args(argv)
    dev = common.start_torch_stage(STAGE, 0)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from . import metrics, vlm
    rows = common.read_jsonl(a.tasks)
    common.check_checkpoint(a.judge)
    try:
        tok = AutoTokenizer.from_pretrained(a.judge)
        model = AutoModelForCausalLM.from_pretrained(a.judge).eval()
    except (OSError, ValueError, RuntimeError) as err:
        raise common.StageError(f"corrupted checkpoint: {a.judge}: {str(err).splitlines()[0]}",
                                common.EXIT_CORRUPT)
    model.to(dev)
    common.report_device(STAGE, dev)  # after loading: a corrupt checkpoint stays one stderr line
    pad = tok.convert_tokens_to_ids(vlm.PAD)
    verdicts = []
    with torch.no_grad():
        for start in range(0, len(rows), a.batch_size):
            chunk = rows[start:start + a.batch_size]
            enc = [tok.encode(judge.prompt(r["instruction"], r["informative"], r["precise"]),
                              add_special_tokens=False) for r in chunk]
            width = max(len(e) for e in enc)
            ids = torch.tensor([[pad] * (width - len(e)) + e for e in enc]).to(dev)
            mask = torch.tensor([[0] * (width - len(e)) + [1] * len(e) for e in enc]).to(dev)
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=2, do_sample=False,
                                 pad_token_id=pad).cpu()
            verdicts += [judge.parse_verdict(tok.decode(o[width:], skip_special_tokens=True)) for o in out]
    kept = [dict(r, pred=v) for r, v in zip(rows, verdicts) if v.lower() == "yes"]
    common.write_jsonl(a.out, kept)
    metrics.emit("filter/kept", len(kept))
    metrics.emit("filter/total", len(rows))
    metrics.emit("filter/keep_rate", len(kept) / len(rows) if rows else 0.0)
    counts = {v: verdicts.count(v) for v in sorted(set(verdicts))}
    print(f"filter: kept {len(kept)}/{len(rows)} (verdicts {counts}) -> {a.out}")
    if not kept:
        raise common.StageError(f"no task survived the consistency filter ({len(rows)} judged); "
                                f"wrote an empty {a.out}", common.EXIT_EMPTY)


if __name__ == "__main__":
    common.run_stage(STAGE, main)
