"""The post-training file of a synthesis output, written with the upstream formatting code.

    python3 -m workbench_data.post_train --qa QA_DIR --filtered filtered_task_pairs.jsonl
        --image-folder DIR --out FILE [--syn-only] [--answers filtered|precise|informative]

Upstream `vllm_inference/format_post_train_data.py` (at the pinned commit) turns the consistency
filter's output into LLaMA-Factory's ShareGPT layout, but its reformatting keeps only `messages`:
the rows lose their `images`, while their first turn starts with `<image>` and LLaMA-Factory's
dataset_info.json maps an `images` column, so training on that file has no image to put there.
This module does what that script does, row for row, through the same upstream functions
(`process.syn_utils.process_entry`, imported from QA_DIR): the same rows kept (a row whose image
does not open is skipped), the same example ids (they seed where the caption turn goes), the
same turns; and it keeps each row's `images`.

--answers picks the synthetic answers (Table 5):
  filtered     the consistency filter's choice (upstream: rows the checker labelled "yes",
               answered with its informative/precise/chain-of-thought templates)
  precise      "w/o consistency filter, precise": every collected question, whatever the checker
  informative  said, answered with its precise (or informative) response alone, in the upstream
               plain question-answer template chosen as upstream chooses it (seeded by syn_id).
--syn-only drops the caption turn (upstream --train_on_syn_only).

Exit status: 0 done, 2 usage, 1 bad input (one message naming the file and what to do).
"""
import argparse
import copy
import json
import os
import random
import sys

from workbench_data.prepare import IMAGE_TOKEN, DataError, write_json


def load_upstream(qa_dir):
    """process.syn_utils and process.read_compre_pt of the checkout at QA_DIR."""
    if not os.path.isfile(os.path.join(qa_dir, "process", "syn_utils.py")):
        raise DataError(f"{qa_dir}: no process/syn_utils.py (give the QA-Synthesizer checkout)")
    sys.path.insert(0, os.path.abspath(qa_dir))
    import process.read_compre_pt as patterns
    import process.syn_utils as syn_utils
    return syn_utils, patterns


def single_answer_cook(patterns, which):
    """A replacement for upstream cook_classified_entry: every collected question, answered with
    one response in the plain QA template upstream picks for the row."""
    def cook(entry):
        qa = entry.get("collected_QA")
        if not qa:
            return []
        pattern = copy.deepcopy(random.Random(entry["syn_id"]).choice(patterns.FEWSHOT_PATTERNS["qa"]))
        fields = {"question": qa["Q"], "answer": qa[f"{which}_A"]}
        return [{"from": "human", "value": pattern.inputs.format(**fields)},
                {"from": "gpt", "value": pattern.targets.format(**fields)}]
    return cook


def image_opens(path):
    try:
        from PIL import Image
    except ImportError:   # no Pillow where this runs: the file must at least be there
        return os.path.isfile(path)
    try:
        Image.open(path).convert("RGB")
        return True
    except Exception:
        return False


def to_messages(entry):
    roles = {"human": "user", "gpt": "assistant"}
    return {"messages": [{"role": roles.get(t["from"], t["from"]), "content": t["value"]} for t in entry["conversations"]],
            "images": list(entry["images"][:1])}


def build(rows, syn_utils, image_folder, syn_only):
    out, skipped = [], 0
    for entry in rows:
        processed = syn_utils.process_entry(id=len(out), entry=entry, image_token=IMAGE_TOKEN, train_on_syn_only=syn_only)
        if processed is None:
            continue
        if not processed.get("images") or not image_opens(os.path.join(image_folder, processed["images"][0])):
            skipped += 1
            continue
        out.append(to_messages(processed))
    return out, skipped


def read_jsonl(path):
    try:
        with open(path, encoding="utf8") as f:
            text = f.read().strip()
    except OSError as e:
        raise DataError(f"{path}: cannot read it ({e.strerror}); the synthesize stage writes it")
    rows = []
    for n, line in enumerate(text.split("\n") if text else [], 1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{n}: not a JSON line ({e.msg})")
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(prog="workbench_data.post_train", description=__doc__.split("\n\n")[0])
    ap.add_argument("--qa", required=True, help="the QA-Synthesizer checkout")
    ap.add_argument("--filtered", required=True, help="the synthesis output's filtered_task_pairs.jsonl")
    ap.add_argument("--image-folder", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--syn-only", action="store_true")
    ap.add_argument("--answers", choices=["filtered", "precise", "informative"], default="filtered")
    args = ap.parse_args(argv)
    try:
        syn_utils, patterns = load_upstream(args.qa)
        if args.answers != "filtered":
            syn_utils.cook_classified_entry = single_answer_cook(patterns, args.answers)
        rows, skipped = build(read_jsonl(args.filtered), syn_utils, args.image_folder, args.syn_only)
    except DataError as e:
        print(f"post_train: {e}", file=sys.stderr)
        return 1
    if not rows:
        print(f"post_train: {args.filtered}: no row left to train on ({skipped} skipped: their image does not open in {args.image_folder})", file=sys.stderr)
        return 1
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    write_json(args.out, rows)
    print(f"{args.out}: {len(rows)} rows ({args.answers} answers{', synthetic tasks only' if args.syn_only else ''}; {skipped} skipped: image does not open)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
