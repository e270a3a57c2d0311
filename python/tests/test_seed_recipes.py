"""recipes/filter-seed.sh and recipes/tune-synthesizer.sh with stand-ins for the upstream programs
(no GPU here): which programs run with which arguments, a failing shard failing the stage, the
kept seed tasks formatted by workbench_data.post_train through the (stand-in) upstream functions."""
import json
import os
import subprocess
import sys

from test_post_train import checkout

from hubhost import REPO
RECIPES = os.path.join(REPO, "experiments", "adamllm", "recipes")

STUB = f"""#!/bin/sh
case "$*" in
  *inference.py*) echo "infer CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES $*" >> "$LOG"
    case "$*" in *"--cuda_device $FAIL_SHARD "*) exit 3 ;; esac; exit 0 ;;
  *merge_predictions.py*) echo "merge $*" >> "$LOG"
    out=$(echo "$*" | sed 's/.*--output_dir \\([^ ]*\\).*/\\1/'); cp "$MERGED" "$out.jsonl"; exit 0 ;;
  *torch.distributed.launch*) echo "launch $*" >> "$LOG"; exit 0 ;;
esac
exec {sys.executable} "$@"
"""


def stubs(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("python", "python3"):   # the environment's interpreter (the recipes' first argument)
        (bin_dir / name).write_text(STUB)
        (bin_dir / name).chmod(0o755)
    (tmp_path / "wb").write_text(f"#!/bin/sh\necho {tmp_path}/snapshot\n")
    (tmp_path / "wb").chmod(0o755)
    return dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", LOG=str(tmp_path / "log"), WORKBENCH=str(tmp_path / "wb"))


def seed_dir(tmp_path):
    seed = tmp_path / "seed"
    (tmp_path / "store").mkdir()
    for name in ("a.jpg", "b.jpg"):
        try:
            from PIL import Image
            Image.new("RGB", (2, 2)).save(tmp_path / "store" / name)
        except ImportError:
            (tmp_path / "store" / name).write_bytes(b"x")
    seed.mkdir()
    os.symlink(tmp_path / "store", seed / "images")
    (seed / "triplets.jsonl").write_text('{"images": ["a.jpg"]}\n')
    for name in ("caption.json", "precise.json", "informative.json"):
        (seed / name).write_text("[{}]")
    return seed


def kept(syn_id, image, label):
    return {"syn_id": syn_id, "images": [image], "pred": label, "messages": [],
            "collected_QA": {"Q": f"q{syn_id}", "precise_A": "p", "informative_A": "i"}}


def test_filter_seed_shards_the_checker_over_the_stages_gpus_and_formats_the_kept_tasks(tmp_path):
    env = stubs(tmp_path)
    seed, qa, out = seed_dir(tmp_path), checkout(tmp_path), tmp_path / "out"
    (qa / "vllm_inference").mkdir()
    merged = tmp_path / "merged.jsonl"
    merged.write_text("".join(json.dumps(r) + "\n" for r in (kept(0, "a.jpg", "Yes"), kept(1, "b.jpg", "No"))))
    env.update(MERGED=str(merged), CUDA_VISIBLE_DEVICES="5,7", FAIL_SHARD="none")
    (tmp_path / "checker").mkdir()
    run = subprocess.run(["bash", os.path.join(RECIPES, "filter-seed.sh"), str(tmp_path / "bin" / "python"), str(qa), str(tmp_path / "checker"), str(seed), str(out)],
                         env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    log = (tmp_path / "log").read_text().splitlines()
    infers = [line for line in log if line.startswith("infer ")]
    # One process per GPU: the GPU by its id, the shard by its position (the shards log in any order).
    infers.sort(key=lambda line: line.split("--cuda_device ")[1])
    assert [line.split()[1] for line in infers] == ["CUDA_VISIBLE_DEVICES=5", "CUDA_VISIBLE_DEVICES=7"]
    assert all("--task consistency_filter" in line and "--data_parallel_size 2" in line and f"--model_weight_path {tmp_path}/checker" in line
               and f"--data_path {seed}/triplets.jsonl" in line for line in infers)
    assert "--cuda_device 0 " in infers[0] and "--cuda_device 1 " in infers[1]
    assert any(line.startswith("merge ") for line in log)
    rows = json.loads((out / "train.json").read_text())
    assert [r["images"] for r in rows] == [["a.jpg"]]   # only the task the checker said yes to
    assert rows[0]["messages"][0]["content"].startswith("<image>\n")
    assert os.path.realpath(out / "images") == str(tmp_path / "store")
    # A failing shard fails the stage before anything is merged.
    (tmp_path / "log").unlink()
    env["FAIL_SHARD"] = "1"
    bad = subprocess.run(["bash", os.path.join(RECIPES, "filter-seed.sh"), str(tmp_path / "bin" / "python"), str(qa), str(tmp_path / "checker"), str(seed), str(tmp_path / "out2")],
                         env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "shard 1 (GPU 7) failed" in bad.stderr and "1 of 2 shards failed" in bad.stderr, bad.stderr
    assert not any(line.startswith("merge ") for line in (tmp_path / "log").read_text().splitlines())


def test_tune_synthesizer_launches_upstream_training_on_the_seed_files(tmp_path):
    env = stubs(tmp_path)
    seed, qa = seed_dir(tmp_path), tmp_path / "qa"
    qa.mkdir()
    env["CUDA_VISIBLE_DEVICES"] = "0,1,2,3"
    args = ["bash", os.path.join(RECIPES, "tune-synthesizer.sh"), str(tmp_path / "bin" / "python"), str(qa), str(seed), "base.json", "vision.json", "./scripts/zero3.json"]
    run = subprocess.run(args + ["0", str(tmp_path / "synth")], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    launch = (tmp_path / "log").read_text()
    for flag in ("--nproc_per_node=4 ", "llava/train/train_mem.py", f"--model_name_or_path {tmp_path}/snapshot ",
                 f"--vision_tower {tmp_path}/snapshot ", "--num_train_epochs 2 ", "--syn_mode precise+informative ",
                 "--replace_with_blank_image_percent 0 ", f"--caption_path {seed}/caption.json ",
                 f"--precise_qa_path {seed}/precise.json ", f"--informative_qa_path {seed}/informative.json",
                 f"--image_folder {seed}/images ", f"--output_dir {tmp_path}/synth "):
        assert flag in launch, (flag, launch)
    assert "--blank_image_path" not in launch
    # A blank share needs upstream's blank image, which the checkout must hold.
    refused = subprocess.run(args + ["10", str(tmp_path / "synth10")], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 66 and "Blank.jpg" in refused.stderr


def test_synthesize_shards_synthesis_and_filter_checks_every_shard_and_row_and_writes_both_files(tmp_path):
    env = stubs(tmp_path)
    qa = checkout(tmp_path)
    (qa / "vllm_inference").mkdir()
    seed = seed_dir(tmp_path)   # its images serve as the source's
    merged = tmp_path / "merged.jsonl"   # what the stand-in merge writes for either step
    merged.write_text("".join(json.dumps({**kept(i, img, "Yes"), "messages": [
        {"role": "user", "content": "<image>Describe."}, {"role": "assistant", "content": "c"}]}) + "\n"
        for i, img in enumerate(["a.jpg", "b.jpg"])))
    pairs = tmp_path / "pairs.json"
    pairs.write_text(json.dumps([{"images": ["a.jpg"]}, {"images": ["b.jpg"]}]))
    env.update(MERGED=str(merged), CUDA_VISIBLE_DEVICES="4,6", FAIL_SHARD="none")
    (tmp_path / "synth").mkdir()
    args = ["bash", os.path.join(RECIPES, "synthesize.sh"), str(tmp_path / "bin" / "python"), str(qa), str(tmp_path / "synth"),
            "checker.json", str(pairs), str(seed / "images")]
    out = tmp_path / "out"
    run = subprocess.run(args + [str(out)], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    log = (tmp_path / "log").read_text().splitlines()
    infers = [line for line in log if line.startswith("infer ")]
    synth = sorted((line for line in infers if "--task syn_task_triplet" in line), key=lambda line: line.split("--cuda_device ")[1])
    judge = [line for line in infers if "--task consistency_filter" in line]
    # Any GPUs: each shard sees its GPU and takes its position as the shard index.
    assert [line.split()[1] for line in synth] == ["CUDA_VISIBLE_DEVICES=4", "CUDA_VISIBLE_DEVICES=6"] and len(judge) == 2
    assert "--cuda_device 0 " in synth[0] and "--cuda_device 1 " in synth[1]
    assert all(f"--model_weight_path {tmp_path}/synth " in line and f"--data_path {pairs} " in line
               and "--model_type llava" in line for line in synth)   # the folder as is
    assert all(f"--model_weight_path {tmp_path}/snapshot " in line and f"--data_path {out}/syn_task_triplets.jsonl " in line
               and "--model_type llama" in line for line in judge)   # the manifest resolved
    merges = [line.split("--output_dir ")[1] for line in log if line.startswith("merge ")]
    assert merges == [f"{out}/syn_task_triplets", f"{out}/filtered_task_pairs"]
    full, syn_only = (json.loads((out / name).read_text()) for name in ("train.json", "train_syn_only.json"))
    assert len(full) == len(syn_only) == 2
    assert all(len(r["messages"]) == 4 for r in full) and all(len(r["messages"]) == 2 for r in syn_only)
    # A crashed shard fails the stage (upstream's bare `wait` would merge what the others wrote).
    env["FAIL_SHARD"] = "1"
    crashed = subprocess.run(args + [str(tmp_path / "out2")], env=env, capture_output=True, text=True, timeout=60)
    assert crashed.returncode == 1 and "synthesizer: shard 1 (GPU 6) failed" in crashed.stderr, crashed.stderr
    # A merged file short of rows (a shard that lost some) fails it too.
    env["FAIL_SHARD"] = "none"
    pairs.write_text(json.dumps([{"images": ["a.jpg"]}, {"images": ["b.jpg"]}, {"images": ["a.jpg"]}]))
    short = subprocess.run(args + [str(tmp_path / "out3")], env=env, capture_output=True, text=True, timeout=60)
    assert short.returncode == 1 and "syn_task_triplets.jsonl has 2 rows, expected 3" in short.stderr, short.stderr
