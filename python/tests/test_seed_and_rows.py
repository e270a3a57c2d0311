"""The seed data of the synthesizer (workbench_data.seed, recipes/prepare-seed.sh) and the
training-file checks and mixes (workbench_data.rows): Vision-FLAN's precise answers and ALLaVA's
captions and informative answers joined by image file name, as upstream syn_utils joins them;
the seed tasks written as the synthesizer writes its output, so that the consistency filter's
parsing finds the question with both answers; LLaVA's row shape refused before training."""
import json
import os
import subprocess
import sys

from hubhost import BINARY, REPO, hub_host, needs_binary, repo
from test_prepare_data import make_zip, snapshot
from workbench_data import rows, seed

PYTHON_DIR = os.path.join(REPO, "python")
USER = "<|start_header_id|>user<|end_header_id|>\n\n"
ASSISTANT = "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
EOT = "<|eot_id|>"


def filter_collects(pred):
    """The documented reading of a synthesizer output (paper-tables.md, 6.3: chat turns; the
    first question that got both a precise and an informative answer is collected)."""
    turns = []
    for chunk in pred.split(USER):
        q, a = chunk.split(ASSISTANT)
        assert a.endswith(EOT)
        turns.append((q.strip(), a[:-len(EOT)].strip()))
    seen = {}
    for q, a in turns:
        hint, question = q.split("\n", 1)
        kind = {"Answer with a precise response.": "precise", "Answer with an informative response.": "informative"}[hint]
        other = "informative" if kind == "precise" else "precise"
        if (other, question) in seen:
            return {"Q": question, f"{kind}_A": a, f"{other}_A": seen[(other, question)]}
        seen[(kind, question)] = a


def qa(image, question, answer, **extra):
    return {"image": image, "conversations": [{"from": "human", "value": question}, {"from": "gpt", "value": answer}], **extra}


def seed_files(root):
    make_zip(root / "image_191-task_1k.zip", {"images_191task_1k/a.jpg": b"A", "images_191task_1k/b.jpg": b"B"})
    (root / "metadata.json").write_text(json.dumps([
        qa("images_191task_1k/a.jpg", "<image>\nWhat colour is the car?", "Red", task_name="color"),
        qa("images_191task_1k/b.jpg", "How many dogs?\n<image>", "2", task_name="count"),
        qa("images_191task_1k/gone.jpg", "<image>\nWhat?", "x", task_name="lost")]))
    (root / "captions.json").write_text(json.dumps([
        qa("allava_vflan/images/a.jpg", "<image>\nDescribe.", "A red car.", caption="A red car on a road."),
        qa("allava_vflan/images/b.jpg", "<image>\nDescribe.", "Dogs.", caption="Two dogs."),
        qa("allava_vflan/images/gone.jpg", "<image>\nDescribe.", "?", caption="lost")]))
    (root / "instruct.json").write_text(json.dumps([
        qa("allava_vflan/images/a.jpg", "<image>\nWhat colour is the car?", "The car's paint is a bright red, so red."),
        qa("allava_vflan/images/b.jpg", "<image>\nWhat breed are they?", "Both look like beagles.")]))


def test_seed_files_are_joined_by_image_name_and_the_tasks_read_like_synthesizer_output(tmp_path, capsys):
    snap = snapshot(tmp_path, "datasets--Vision-Flan--seed")
    seed_files(snap)
    out = tmp_path / "seed"
    assert seed.main(["--out", str(out), "--image-store", str(tmp_path / "store"), "--archives", str(snap),
                      "--precise", str(snap / "metadata.json"), "--captions", str(snap / "captions.json"),
                      "--informative", str(snap / "instruct.json")]) == 0
    assert sorted(os.listdir(out / "images")) == ["a.jpg", "b.jpg"]
    captions = json.loads((out / "caption.json").read_text())
    assert [c["image"] for c in captions] == ["a.jpg", "b.jpg"] and captions[0]["caption"] == "A red car on a road."
    summary = json.loads((out / "seed.json").read_text())
    assert summary["files"]["precise.json"]["image_not_found"] == 1 and summary["files"]["caption.json"]["entries"] == 2
    triplets = [json.loads(line) for line in (out / "triplets.jsonl").read_text().splitlines()]
    # b's two questions differ: no task with both answers, so no row for it.
    assert [t["images"] for t in triplets] == [["a.jpg"]] and triplets[0]["task_name"] == "color"
    assert triplets[0]["messages"][1]["content"] == "A red car on a road."
    assert filter_collects(triplets[0]["pred"]) == {
        "Q": "What colour is the car?", "precise_A": "Red", "informative_A": "The car's paint is a bright red, so red."}
    assert "1 left out (image not found)" in capsys.readouterr().out


def test_bad_seed_entries_are_named(tmp_path, capsys):
    snap = snapshot(tmp_path, "datasets--Vision-Flan--seed")
    seed_files(snap)
    (snap / "instruct.json").write_text(json.dumps([{"image": "a.jpg", "conversations": [{"from": "human", "value": "q"}]}]))
    args = ["--out", str(tmp_path / "seed"), "--image-store", str(tmp_path / "store"), "--archives", str(snap),
            "--precise", str(snap / "metadata.json"), "--captions", str(snap / "captions.json"), "--informative", str(snap / "instruct.json")]
    assert seed.main(args) == 1
    err = capsys.readouterr().err
    assert "instruct.json: entry 0" in err and "informative answer file" in err
    # No question answered both ways anywhere: refused, not an empty training set.
    (snap / "instruct.json").write_text(json.dumps([qa("x/a.jpg", "<image>\nAnother question?", "Long answer.")]))
    assert seed.main(args) == 1
    assert "no image has one question in both" in capsys.readouterr().err


@needs_binary
def test_the_seed_recipe_fetches_pinned_repositories(tmp_path):
    files = tmp_path / "files"
    files.mkdir()
    seed_files(files)
    (files / "unused.bin").write_bytes(b"u" * 3000)
    vflan, allava = "3" * 40, "4" * 40
    config = {"lfs_threshold": 100, "repos": {
        "datasets/Vision-Flan/seed": repo(vflan, {"metadata.json": files / "metadata.json", "unused.bin": files / "unused.bin",
                                                  "image_191-task_1k.zip": files / "image_191-task_1k.zip"}),
        "datasets/Org/ALLaVA": repo(allava, {"allava_vflan/cap.json": files / "captions.json", "allava_vflan/ins.json": files / "instruct.json",
                                             "allava_laion/huge.json": files / "unused.bin"})}}
    with hub_host(tmp_path, config) as env:
        env["WORKBENCH"] = BINARY
        out = tmp_path / "stage" / "seed"
        recipe = os.path.join(REPO, "experiments", "adamllm", "recipes", "prepare-seed.sh")
        run = subprocess.run(["bash", recipe, str(out), str(tmp_path / "store"), f"Vision-Flan/seed@{vflan}", "image_191-task_1k.zip",
                              "metadata.json", f"Org/ALLaVA@{allava}", "allava_vflan/cap.json", "allava_vflan/ins.json"],
                             env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
    assert len((out / "triplets.jsonl").read_text().splitlines()) == 1
    manifests = {n: json.loads((out / "manifests" / f"{n}.json").read_text()) for n in ("vision-flan", "allava")}
    assert manifests["vision-flan"]["commit"] == vflan and manifests["allava"]["commit"] == allava
    assert sorted(f["path"] for f in manifests["allava"]["files"]) == ["allava_vflan/cap.json", "allava_vflan/ins.json"]
    assert "unused.bin" not in [f["path"] for f in manifests["vision-flan"]["files"]]


def sharegpt(image, *turns):
    return {"images": [image], "messages": [{"role": r, "content": c} for r, c in turns]}


def run_rows(*args):
    return subprocess.run([sys.executable, "-m", "workbench_data.rows", *args], env=dict(os.environ, PYTHONPATH=PYTHON_DIR),
                          capture_output=True, text=True, timeout=60)


def test_llava_shape_is_checked_row_by_row(tmp_path):
    good = sharegpt("a.jpg", ("user", "<image>\nWhat?"), ("assistant", "A."), ("user", "More?"), ("assistant", "B."))
    cases = {
        "two images": ({**good, "images": ["a.jpg", "b.jpg"]}, "2 image(s)"),
        "token late": (sharegpt("a.jpg", ("user", "What?\n<image>"), ("assistant", "A.")), "must start with <image>"),
        "odd turns": (sharegpt("a.jpg", ("user", "<image>What?")), "1 messages"),
        "roles": (sharegpt("a.jpg", ("user", "<image>Q"), ("user", "A")), "message 1 is not a assistant turn"),
        "second token": (sharegpt("a.jpg", ("user", "<image>Q"), ("assistant", "A"), ("user", "<image>again"), ("assistant", "B")), "message 2 holds <image>"),
    }
    (tmp_path / "good.json").write_text(json.dumps([good]))
    ok = run_rows("check-llava", str(tmp_path / "good.json"))
    assert ok.returncode == 0 and "1 rows in 1 file(s)" in ok.stdout, ok.stderr
    for name, (row, message) in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}.json"
        path.write_text(json.dumps([good, row]))
        bad = run_rows("check-llava", str(tmp_path / "good.json"), str(path))
        assert bad.returncode == 1 and f"{path}: row 1: " in bad.stderr and message in bad.stderr, (name, bad.stderr)
    (tmp_path / "empty.json").write_text("[]")
    empty = run_rows("check-llava", str(tmp_path / "empty.json"))
    assert empty.returncode == 1 and "no rows" in empty.stderr


def test_mixing_makes_images_absolute_and_checks_them(tmp_path):
    for folder, name in (("general", "g.jpg"), ("domain", "d.jpg")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / name).write_bytes(b"x")
        (tmp_path / f"{folder}.json").write_text(json.dumps([sharegpt(name, ("user", "<image>Q"), ("assistant", "A"))]))
    out = tmp_path / "out" / "mixed.json"
    assert rows.main(["mix", "--out", str(out), str(tmp_path / "general.json"), str(tmp_path / "general"),
                      str(tmp_path / "domain.json"), str(tmp_path / "domain")]) == 0
    mixed = json.loads(out.read_text())
    assert [r["images"] for r in mixed] == [[str(tmp_path / "general" / "g.jpg")], [str(tmp_path / "domain" / "d.jpg")]]
    # An image that is not in the folder given with its file fails, naming both.
    assert rows.main(["mix", "--out", str(out), str(tmp_path / "general.json"), str(tmp_path / "domain")]) == 1
