"""The rehearsal's hub: tiny checkpoints and datasets under the real repository names the paper
profile fetches, in those repositories' layouts, and the config of the hub look-alike
(scripts/hub-test-host.py) that serves them at commits dated before the paper.

    python -m workbench_rehearsal.hub --out DIR        (DIR/repos/..., DIR/hub.json)

Repositories (the names the catalogs give):
* models: Qwen/Qwen2-VL-2B-Instruct and meta-llama/Llama-3.2-11B-Vision-Instruct, shrunk from the
  real configurations (tiny_models.py);
* datasets/FreedomIntelligence/PubMedVision: `images_0.zip` (images under images/) and
  PubMedVision_InstructionTuning_VQA.json in LLaVA's layout (id, image list, conversations);
* datasets/AdaptLLM/biomed-visual-instructions: image_caption_pairs.json (ShareGPT messages/images,
  naming PubMedVision's images);
* datasets/AdaptLLM/biomed-VQA-benchmark: one configuration per task (SLAKE, PathVQA, VQA_RAD,
  PMC_VQA) declared in README.md's `configs:`, each a test split in parquet with the image embedded
  and the fields the upstream inference and our scorers read (input, label, answer_type; PMC_VQA:
  A-D options). The real repositories' file names could not be read here (no hub access): this is
  the layout `datasets` itself writes for configurations, which load_dataset(path, TASK,
  split="test") reads the same way.

The scenes are the stand-in world's (workbench_smoke.world: coloured shapes, captions, questions),
so a trained tiny model can learn them. Deterministic for a seed.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import zipfile

from workbench_smoke import world

from . import tiny_models

PAPER_DAY_COMMITS = "2025-03-03T12:00:00.000Z"   # before paper.date (2025-08-27): what `lock` picks
BIOMED_TASKS = ("SLAKE", "PathVQA", "VQA_RAD", "PMC_VQA")


def commit_id(repo: str, n: int) -> str:
    return hashlib.sha1(f"workbench rehearsal {repo} {n}".encode()).hexdigest()


def files_under(root: str) -> dict[str, str]:
    out = {}
    for base, _, names in os.walk(root):
        for name in sorted(names):
            path = os.path.join(base, name)
            out[os.path.relpath(path, root)] = os.path.abspath(path)
    return dict(sorted(out.items()))


def jpeg(image) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def question_rows(rng: random.Random, kinds: tuple[str, ...], n: int) -> list[tuple[object, dict]]:
    rows = []
    for i in range(n):
        scene = world.random_scene(rng)
        rows.append((world.draw(scene, rng), world.task(scene, kinds[i % len(kinds)], rng)))
    return rows


def pubmedvision(root: str, captions_root: str, rng: random.Random, n: int) -> None:
    os.makedirs(root, exist_ok=True)
    os.makedirs(captions_root, exist_ok=True)
    vqa, captions = [], []
    with zipfile.ZipFile(os.path.join(root, "images_0.zip"), "w", zipfile.ZIP_STORED) as archive:
        for i in range(n):
            scene = world.random_scene(rng)
            image = world.draw(scene, rng)
            name = f"pmc_{i:05d}.jpg"
            info = zipfile.ZipInfo(f"images/{name}", date_time=(2025, 1, 1, 0, 0, 0))
            archive.writestr(info, jpeg(image))
            t = world.task(scene, ("colour", "shape", "count", "yesno_colour", "yesno_shape")[i % 5], rng)
            vqa.append({"id": f"pmv-{i}", "image": [f"images/{name}"],
                        "conversations": [{"from": "human", "value": f"<image>\n{t['Q']}"},
                                          {"from": "gpt", "value": t["precise_A"]}]})
            captions.append({"messages": [{"role": "user", "content": "<image>" + rng.choice(world.CAPTION_INSTRUCTIONS)},
                                          {"role": "assistant", "content": world.caption(scene, rng)}],
                             "images": [name]})
    with open(os.path.join(root, "PubMedVision_InstructionTuning_VQA.json"), "w") as f:
        json.dump(vqa, f, indent=1)
    with open(os.path.join(captions_root, "image_caption_pairs.json"), "w") as f:
        json.dump(captions, f, indent=1)


def benchmark(root: str, rng: random.Random, per_task: int) -> None:
    import datasets
    from PIL import Image

    os.makedirs(root, exist_ok=True)
    features = datasets.Features({"image": datasets.Image(), "input": datasets.Value("string"),
                                  "label": datasets.Value("string"), "answer_type": datasets.Value("string")})
    mc_features = datasets.Features({"image": datasets.Image(), "input": datasets.Value("string"),
                                     "label": datasets.Value("string"), **{k: datasets.Value("string") for k in "ABCD"}})
    configs = []
    for task in BIOMED_TASKS:
        if task == "PMC_VQA":
            rows = question_rows(rng, ("mc_colour", "mc_shape"), per_task)
            records = [{"image": Image.open(io.BytesIO(jpeg(img))), "input": t["Q"], "label": t["label"],
                        **t["options"]} for img, t in rows]
            ds = datasets.Dataset.from_list(records, features=mc_features)
        else:
            rows = question_rows(rng, ("colour", "shape", "yesno_colour", "yesno_shape"), per_task)
            records = [{"image": Image.open(io.BytesIO(jpeg(img))), "input": t["Q"], "label": t["precise_A"],
                        "answer_type": t["answer_type"]} for img, t in rows]
            ds = datasets.Dataset.from_list(records, features=features)
        os.makedirs(os.path.join(root, task), exist_ok=True)
        ds.to_parquet(os.path.join(root, task, "test-00000-of-00001.parquet"))
        configs.append(f"- config_name: {task}\n  data_files:\n  - split: test\n    path: {task}/test-*\n")
    with open(os.path.join(root, "README.md"), "w") as f:
        f.write("---\nconfigs:\n" + "".join(configs) + "---\n\n# Rehearsal stand-in of the biomedical VQA benchmark\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--images", type=int, default=96, help="PubMedVision stand-in images (one VQA row and one caption each)")
    ap.add_argument("--per-task", type=int, default=8, help="benchmark rows per task")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    repos_dir = os.path.join(a.out, "repos")
    made = {
        "models/Qwen/Qwen2-VL-2B-Instruct": lambda d: tiny_models.qwen2_vl(d, world.corpus()),
        "models/meta-llama/Llama-3.2-11B-Vision-Instruct": lambda d: tiny_models.mllama(d, world.corpus()),
        "datasets/AdaptLLM/biomed-VQA-benchmark": lambda d: benchmark(d, rng, a.per_task),
    }
    for key, build in made.items():
        build(os.path.join(repos_dir, key))
    pubmedvision(os.path.join(repos_dir, "datasets/FreedomIntelligence/PubMedVision"),
                 os.path.join(repos_dir, "datasets/AdaptLLM/biomed-visual-instructions"), rng, a.images)
    config = {"repos": {}, "lfs_threshold": 1024}
    for kind in ("models", "datasets"):
        base = os.path.join(repos_dir, kind)
        for org in sorted(os.listdir(base)):
            for name in sorted(os.listdir(os.path.join(base, org))):
                key = f"{kind}/{org}/{name}"
                commit = commit_id(key, 1)
                config["repos"][key] = {
                    "refs": {"main": commit},
                    "commits": {commit: files_under(os.path.join(base, org, name))},
                    "history": [{"id": commit, "date": PAPER_DAY_COMMITS, "title": "rehearsal stand-in"}],
                }
    with open(os.path.join(a.out, "hub.json"), "w") as f:
        json.dump(config, f, indent=1, sort_keys=True)
    print(f"rehearsal hub: {len(config['repos'])} repositories -> {a.out}/hub.json")


if __name__ == "__main__":
    main()
