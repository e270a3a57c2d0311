"""Checks and mixes ShareGPT training files (`messages` with role/content, `images`).

    python3 -m workbench_data.rows check-llava FILE...
    python3 -m workbench_data.rows mix --out FILE ROWS_JSON IMAGE_DIR [ROWS_JSON IMAGE_DIR ...]

check-llava: the shape upstream LLaVA's loader (llava/train/train.py, LazySupervisedDataset)
asserts row by row while 8 GPUs wait on it: exactly one image; the first message from the user
and starting with <image>; user and assistant turns alternating, in pairs; no <image> token
anywhere else. The first offending row is named with what is wrong, before anything loads.

mix: one training file from several, each row's image made an absolute path against the folder
given with its file (two image folders cannot be one --image_folder / --media_dir otherwise; LLaVA
and LLaMA-Factory both take an absolute path as it is). Every image must exist. Rows keep their
order, file after file.

Exit status: 0 done, 2 usage, 1 bad rows (one message naming the file, the row and what to do).
"""
import argparse
import os
import sys

from workbench_data.prepare import IMAGE_TOKEN, DataError, read_json_list, write_json


def load_rows(path):
    rows = read_json_list(path)
    if not rows:
        raise DataError(f"{path}: no rows; the stage that wrote it kept nothing to train on")
    return rows


def llava_problem(row):
    """What upstream LLaVA's loader would reject in `row`, or None."""
    if not isinstance(row, dict) or not isinstance(row.get("messages"), list):
        return "no 'messages' list"
    images, messages = row.get("images"), row["messages"]
    if not isinstance(images, list) or len(images) != 1:
        return f"{len(images) if isinstance(images, list) else 'no'} image(s); LLaVA takes exactly one per row"
    if not messages or len(messages) % 2:
        return f"{len(messages)} messages; LLaVA needs user/assistant pairs"
    for i, m in enumerate(messages):
        want = "user" if i % 2 == 0 else "assistant"
        if not isinstance(m, dict) or m.get("role") != want or not isinstance(m.get("content"), str):
            return f"message {i} is not a {want} turn with text content"
        tokens = m["content"].count(IMAGE_TOKEN)
        if i == 0 and (tokens != 1 or not m["content"].startswith(IMAGE_TOKEN)):
            return f"the first message must start with {IMAGE_TOKEN} and hold it once ({tokens} found)"
        if i > 0 and tokens:
            return f"message {i} holds {IMAGE_TOKEN}; only the first may"
    return None


def check_llava(paths):
    total = 0
    for path in paths:
        rows = load_rows(path)
        for i, row in enumerate(rows):
            problem = llava_problem(row)
            if problem:
                raise DataError(f"{path}: row {i}: {problem} (upstream llava/train/train.py asserts it; "
                               "fix the stage that wrote the file)")
        total += len(rows)
    return total


def mix(pairs, out):
    mixed = []
    for path, folder in pairs:
        for i, row in enumerate(load_rows(path)):
            if not isinstance(row, dict) or not isinstance(row.get("images"), list):
                raise DataError(f"{path}: row {i}: no 'images' list")
            images = []
            for image in row["images"]:
                full = os.path.abspath(os.path.join(folder, image))
                if not os.path.isfile(full):
                    raise DataError(f"{path}: row {i}: image {image} is not in {folder}")
                images.append(full)
            mixed.append({**row, "images": images})
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    write_json(out, mixed)
    return len(mixed)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="workbench_data.rows", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check-llava", help="refuse rows upstream LLaVA's loader would assert on")
    check.add_argument("files", nargs="+")
    m = sub.add_parser("mix", help="one file from several, images as absolute paths")
    m.add_argument("--out", required=True)
    m.add_argument("pairs", nargs="+", metavar="ROWS_JSON IMAGE_DIR")
    args = ap.parse_args(argv)
    try:
        if args.command == "check-llava":
            print(f"check-llava: {check_llava(args.files)} rows in {len(args.files)} file(s) have LLaVA's shape")
        else:
            if len(args.pairs) % 2:
                ap.error("mix takes ROWS_JSON IMAGE_DIR pairs")
            n = mix(list(zip(args.pairs[::2], args.pairs[1::2])), args.out)
            print(f"{args.out}: {n} rows")
    except DataError as e:
        print(f"rows: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
