"""Lay out the synthesizer's seed data the way the upstream scripts read it.

    python3 -m workbench_data.seed --out OUT --image-store STORE --archives SNAPSHOT
        [--archive-glob GLOB] --precise metadata.json --captions ALLaVA-Caption-VFLAN-4V.json
        --informative ALLaVA-Instruct-VFLAN-4V.json

The seed data (paper, section 3.1; upstream scripts/tune_synthesizer.sh) joins three files by
image: Vision-FLAN's instructions with their precise answers (metadata.json), and ALLaVA-4V's
captions and informative answers of the same images. Upstream process/syn_utils.py joins them
by the image's file name alone (os.path.basename), so this module does the same, and finds each
image by that name in the extracted archives (flattened once per snapshot into STORE, as
workbench_data.prepare does; two members with one name and different contents are an error).
It writes:

* OUT/images: a link to the extracted images;
* OUT/caption.json, OUT/precise.json, OUT/informative.json: the three files, each entry's
  `image` rewritten to its file name in OUT/images, entries whose image is not there left out
  (counted in OUT/seed.json), every entry checked for the shape upstream asserts (a
  `conversations` pair ending with the answer; a `caption` in the caption file);
* OUT/triplets.jsonl: for Table 5's general tasks, one row per image that has a question with
  both a precise and an informative answer: the image, its caption as an image-caption pair
  (`images`, `messages`) and, as `pred`, that question and its two answers written the way the
  synthesizer writes them (Llama-3 chat turns, each question after its "Answer with a precise
  response." / "Answer with an informative response." hint), so upstream inference.py's
  consistency filter judges them exactly as it judges synthesized ones;
* OUT/seed.json: counts and the SHA-256 of every written file.

Exit status: 0 done, 2 usage, 1 bad data (one message naming the file, the entry and what to do).
"""
import argparse
import os
import sys

from workbench_data.prepare import IMAGE_TOKEN, DataError, image_folder, link_images, read_json_list, sha256_file, write_json, write_jsonl

PRECISE_HINT = "Answer with a precise response."
INFORMATIVE_HINT = "Answer with an informative response."
CAPTION_HINT = "Describe the image."
USER = "<|start_header_id|>user<|end_header_id|>\n\n"
ASSISTANT = "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
END = "<|eot_id|>"


def load_entries(path, what, need_caption=False):
    entries = read_json_list(path, f"{what} entries")
    if not entries:
        raise DataError(f"{path}: no {what} entries")
    for i, e in enumerate(entries):
        turns = e.get("conversations") if isinstance(e, dict) else None
        if not (isinstance(turns, list) and len(turns) == 2 and isinstance(turns[1], dict) and turns[1].get("from") == "gpt"
                and all(isinstance(t, dict) and isinstance(t.get("value"), str) for t in turns)):
            raise DataError(f"{path}: entry {i}: expected 'conversations' with a question and a 'gpt' answer "
                            f"(upstream syn_utils asserts it); is this the {what} file?")
        if not isinstance(e.get("image"), str) or not e["image"]:
            raise DataError(f"{path}: entry {i}: no 'image'")
        if need_caption and not isinstance(e.get("caption"), str):
            raise DataError(f"{path}: entry {i}: no 'caption' (the ALLaVA caption file has one per entry)")
    return entries


def question_text(value):
    """The question without its image token (before or after it) and outer whitespace."""
    q = value.strip()
    if q.startswith(IMAGE_TOKEN):
        q = q[len(IMAGE_TOKEN):]
    elif q.endswith(IMAGE_TOKEN):
        q = q[:-len(IMAGE_TOKEN)]
    return q.strip()


def synthesizer_turns(question, precise, informative):
    """The question and both answers as the synthesizer writes them after its prompt."""
    turn = lambda hint, answer: f"{hint}\n{question}{ASSISTANT}{answer}{END}"
    return turn(PRECISE_HINT, precise) + USER + turn(INFORMATIVE_HINT, informative)


def lay_out(entries, names, path):
    """Entries whose image is in `names`, with `image` rewritten to that name."""
    kept, missing = [], 0
    for e in entries:
        name = os.path.basename(e["image"])
        if name not in names:
            missing += 1
            continue
        kept.append({**e, "image": name})
    if not kept:
        raise DataError(f"{path}: none of its {len(entries)} images is in the extracted archives; "
                        "the catalog's seed revisions do not belong together")
    return kept, missing


def triplets(captions, precise, informative):
    """One consistency-filter row per image with a question answered both ways."""
    caption_of = {}
    for e in captions:
        caption_of.setdefault(e["image"], e)   # upstream keeps the first caption of an image
    answers = {}
    for kind, entries in (("precise", precise), ("informative", informative)):
        for e in entries:
            if e["image"] not in caption_of:
                continue
            q = question_text(e["conversations"][0]["value"])
            a = e["conversations"][1]["value"].strip()
            if q and a:
                answers.setdefault(e["image"], {"precise": [], "informative": []})[kind].append((q, a, e.get("task_name")))
    rows = []
    for image, found in answers.items():
        informative_of = {}
        for q, a, _ in found["informative"]:
            informative_of.setdefault(q, a)
        match = next(((q, a, task) for q, a, task in found["precise"] if q in informative_of), None)
        if match is None:
            continue
        q, a, task = match
        cap = caption_of[image]
        rows.append({"images": [image],
                     "messages": [{"role": "user", "content": f"{IMAGE_TOKEN}{CAPTION_HINT}"},
                                  {"role": "assistant", "content": cap["caption"]}],
                     "pred": synthesizer_turns(q, a, informative_of[q]),
                     "task_name": task})
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(prog="workbench_data.seed", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--image-store", required=True)
    ap.add_argument("--archives", required=True, help="the fetched snapshot holding the image archive")
    ap.add_argument("--archive-glob", default="image_191-task_1k.zip")
    ap.add_argument("--precise", required=True, help="Vision-FLAN's metadata.json")
    ap.add_argument("--captions", required=True, help="ALLaVA-Caption-VFLAN-4V.json")
    ap.add_argument("--informative", required=True, help="ALLaVA-Instruct-VFLAN-4V.json")
    args = ap.parse_args(argv)
    try:
        images_dir, archives, extracted = image_folder(args.image_store, args.archives, args.archive_glob)
        names = set(os.listdir(images_dir))
        link_images(args.out, images_dir)
        summary = {"images": len(names), "image_folder": images_dir, "archives": archives, "files": {}}
        laid = {}
        for name, path, what, need_caption in (("caption.json", args.captions, "caption", True),
                                               ("precise.json", args.precise, "precise answer", False),
                                               ("informative.json", args.informative, "informative answer", False)):
            kept, missing = lay_out(load_entries(path, what, need_caption), names, path)
            laid[name] = kept
            dest = os.path.join(args.out, name)
            write_json(dest, kept)
            summary["files"][name] = {"from": os.path.abspath(path), "entries": len(kept),
                                      "image_not_found": missing, "sha256": sha256_file(dest)}
        rows = triplets(laid["caption.json"], laid["precise.json"], laid["informative.json"])
        if not rows:
            raise DataError(f"{args.precise} and {args.informative}: no image has one question in both "
                            "(the precise and informative answers are matched by the question's text)")
        dest = os.path.join(args.out, "triplets.jsonl")
        write_jsonl(dest, rows)
        summary["files"]["triplets.jsonl"] = {"rows": len(rows), "sha256": sha256_file(dest)}
        write_json(os.path.join(args.out, "seed.json"), summary)
    except DataError as e:
        print(f"seed: {e}", file=sys.stderr)
        return 1
    for name, f in summary["files"].items():
        extra = f", {f['image_not_found']} left out (image not found)" if f.get("image_not_found") else ""
        print(f"{name}: {f.get('entries', f.get('rows'))} {'rows' if 'rows' in f else 'entries'}{extra}")
    print(f"images: {summary['images']} in {images_dir} ({'extracted now' if extracted else 'extracted before'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
