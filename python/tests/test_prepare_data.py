"""The paper profile's data preparation (workbench_data.prepare and recipes/prepare-data.sh):
image archives extracted once per snapshot and flattened, LLaVA rows converted to ShareGPT,
every image checked; and the recipe end to end against the project's hub look-alike with the
built binary."""
import json
import os
import subprocess
import sys
import zipfile

import pytest

from hubhost import BINARY, REPO, hub_host, needs_binary, repo
from workbench_data import prepare


def snapshot(tmp_path, name="datasets--org--imgs", commit="a" * 40):
    path = tmp_path / "hub" / name / "snapshots" / commit
    path.mkdir(parents=True)
    return path


def make_zip(path, members):
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def llava_row(image, question="What is shown?", answer="A cell."):
    return {"id": image, "image": [image],
            "conversations": [{"from": "human", "value": f"<image>\n{question}"}, {"from": "gpt", "value": answer}]}


def test_archives_are_flattened_once_and_rows_converted(tmp_path):
    snap = snapshot(tmp_path)
    make_zip(snap / "images_0.zip", {"images/a.jpg": b"A", "images/b.jpg": b"B", "__MACOSX/._a.jpg": b"x"})
    make_zip(snap / "images" / "images_1.zip", {"c.jpg": b"C"})   # a later revision's layout: under images/
    captions = tmp_path / "pairs.json"
    captions.write_text(json.dumps([
        {"images": ["a.jpg"], "messages": [{"role": "user", "content": "<image>Describe."}, {"role": "assistant", "content": "a"}]},
        {"images": ["c.jpg"], "messages": [{"role": "user", "content": "Describe."}, {"role": "assistant", "content": "c"}]},
    ]))
    instructions = tmp_path / "instructions.json"
    instructions.write_text(json.dumps([llava_row("images/b.jpg"), llava_row("images/a.jpg")]))
    store, out = tmp_path / "store", tmp_path / "out"
    args = ["--out", str(out), "--image-store", str(store), "--archives", str(snap),
            "--captions", str(captions), "--instructions", str(instructions)]
    assert prepare.main(args) == 0
    folder = store / ("datasets--org--imgs--" + "a" * 40)
    assert sorted(os.listdir(folder)) == ["a.jpg", "b.jpg", "c.jpg"]
    assert os.path.realpath(out / "images") == str(folder)
    rows = json.loads((out / "instructions.json").read_text())
    assert rows[0] == {"messages": [{"role": "user", "content": "<image>\nWhat is shown?"},
                                    {"role": "assistant", "content": "A cell."}], "images": ["b.jpg"]}
    pairs = json.loads((out / "image_caption_pairs.json").read_text())
    assert pairs[1]["messages"][0]["content"] == "<image>\nDescribe."   # the image token written
    summary = json.loads((out / "data.json").read_text())
    assert summary["images"] == 3 and summary["files"]["image_caption_pairs.json"]["image_tokens_added"] == 1
    assert [a["path"] for a in summary["archives"]] == ["images_0.zip", "images/images_1.zip"]
    # A second source on the same snapshot reuses the extracted folder.
    marker = (store / ("datasets--org--imgs--" + "a" * 40 + ".complete")).stat().st_mtime_ns
    (folder / "a.jpg").write_bytes(b"kept")
    assert prepare.main(["--out", str(tmp_path / "out2"), "--image-store", str(store), "--archives", str(snap)]) == 0
    assert (folder / "a.jpg").read_bytes() == b"kept"
    assert (store / ("datasets--org--imgs--" + "a" * 40 + ".complete")).stat().st_mtime_ns == marker


def test_an_extraction_never_marked_complete_is_redone(tmp_path):
    snap = snapshot(tmp_path)
    make_zip(snap / "images_0.zip", {"a.jpg": b"A"})
    store = tmp_path / "store"
    half = store / ("datasets--org--imgs--" + "a" * 40)
    half.mkdir(parents=True)
    (half / "a.jpg").write_bytes(b"")   # a killed run's truncated file, no .complete marker
    assert prepare.main(["--out", str(tmp_path / "out"), "--image-store", str(store), "--archives", str(snap)]) == 0
    assert (half / "a.jpg").read_bytes() == b"A"


def test_a_missing_image_fails_naming_the_row(tmp_path, capsys):
    snap = snapshot(tmp_path)
    make_zip(snap / "images_0.zip", {"a.jpg": b"A"})
    instructions = tmp_path / "instructions.json"
    instructions.write_text(json.dumps([llava_row("a.jpg"), llava_row("images/zz.jpg")]))
    code = prepare.main(["--out", str(tmp_path / "out"), "--image-store", str(tmp_path / "store"),
                         "--archives", str(snap), "--instructions", str(instructions)])
    err = capsys.readouterr().err
    assert code == 1 and f"{instructions}: 1 image(s)" in err and "row 1: images/zz.jpg" in err, err
    assert not (tmp_path / "out" / "instructions.json").exists()


@pytest.mark.parametrize("rows, message", [
    ([{"text": "no conversation"}], "row 0: neither 'messages' (ShareGPT) nor 'conversations' (LLaVA)"),
    ([{"image": "a.jpg", "conversations": [{"from": "robot", "value": "hi"}]}], "row 0: unknown speaker 'robot'"),
    ([{"image": ["a.jpg"], "conversations": [{"from": "human", "value": "<image><image>?"}, {"from": "gpt", "value": "x"}]}],
     "row 0 names 1 image(s) but its user turns hold 2 <image> token(s)"),
    ({"not": "a list"}, "expected a JSON list of rows"),
])
def test_bad_rows_are_refused_with_the_row(tmp_path, capsys, rows, message):
    snap = snapshot(tmp_path)
    make_zip(snap / "images_0.zip", {"a.jpg": b"A"})
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(rows))
    code = prepare.main(["--out", str(tmp_path / "out"), "--image-store", str(tmp_path / "store"),
                         "--archives", str(snap), "--instructions", str(bad)])
    err = capsys.readouterr().err
    assert code == 1 and message in err, err


def test_two_members_of_one_name_with_different_contents_are_refused(tmp_path, capsys):
    snap = snapshot(tmp_path)
    make_zip(snap / "images_0.zip", {"x/a.jpg": b"A"})
    make_zip(snap / "images_1.zip", {"y/a.jpg": b"other"})
    store = tmp_path / "store"
    code = prepare.main(["--out", str(tmp_path / "out"), "--image-store", str(store), "--archives", str(snap)])
    assert code == 1 and "both named a.jpg with different contents" in capsys.readouterr().err
    assert [p for p in os.listdir(store) if not p.endswith(".lock")] == []   # the partial extraction is removed
    code = prepare.main(["--out", str(tmp_path / "out"), "--image-store", str(store), "--archives", str(snap),
                         "--archive-glob", "*.tar"])
    assert code == 1 and "no archive matches '*.tar'" in capsys.readouterr().err


@needs_binary
def test_the_recipe_fetches_pinned_repositories_and_prepares_them(tmp_path):
    """recipes/prepare-data.sh against the hub look-alike: images from one dataset repository
    (archives under images/ and beside unrelated files it must not download), captions from a
    second, a LLaVA-layout baseline from the first, each at a pinned commit."""
    files = tmp_path / "files"
    make_zip(files / "images_0.zip", {"images/p1.jpg": b"P1", "images/p2.jpg": b"P2"})
    (files / "big-unused.bin").write_bytes(b"u" * 5000)
    (files / "pairs.json").write_text(json.dumps([
        {"images": ["images/p1.jpg"], "messages": [{"role": "user", "content": "<image>Describe."},
                                                    {"role": "assistant", "content": "p1"}]}]))
    (files / "vqa.json").write_text(json.dumps([llava_row("images/p2.jpg")]))
    img_commit, cap_commit = "1" * 40, "2" * 40
    config = {"lfs_threshold": 100, "repos": {
        "datasets/org/images": repo(img_commit, {"images/images_0.zip": files / "images_0.zip",
                                                 "big-unused.bin": files / "big-unused.bin", "VQA.json": files / "vqa.json"}),
        "datasets/org/captions": repo(cap_commit, {"image_caption_pairs.json": files / "pairs.json"})}}
    with hub_host(tmp_path, config) as env:
        env["WORKBENCH"] = BINARY
        out = tmp_path / "stage" / "data"
        recipe = os.path.join(REPO, "experiments", "adamllm", "recipes", "prepare-data.sh")
        run = subprocess.run(["bash", recipe, str(out), str(tmp_path / "store"), f"org/images@{img_commit}", "images_*.zip",
                              f"org/captions@{cap_commit}", "image_caption_pairs.json", f"org/images@{img_commit}", "VQA.json"],
                             env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        # A revision that does not exist fails the stage, naming it.
        bad = subprocess.run(["bash", recipe, str(tmp_path / "bad"), str(tmp_path / "store"), "org/images@" + "9" * 40,
                              "images_*.zip", "-", "-", "-", "-"], env=env, capture_output=True, text=True, timeout=120)
        assert bad.returncode != 0 and "org/images" in bad.stderr, bad.stderr
    assert json.loads((out / "instructions.json").read_text())[0]["images"] == ["p2.jpg"]
    assert json.loads((out / "image_caption_pairs.json").read_text())[0]["images"] == ["p1.jpg"]
    assert sorted(os.listdir(out / "images")) == ["p1.jpg", "p2.jpg"]
    manifests = {name: json.loads((out / "manifests" / f"{name}.json").read_text()) for name in ("images", "captions", "instructions")}
    assert manifests["images"]["commit"] == img_commit and manifests["captions"]["commit"] == cap_commit
    assert [f["path"] for f in manifests["images"]["files"]] == ["images/images_0.zip"]
    assert all(f["sha256"] for f in manifests["images"]["files"])   # LFS-sized: verified against the hub's digest
    blobs = os.listdir(tmp_path / "hf" / "hub" / "datasets--org--images" / "blobs")
    assert len(blobs) == 2   # the archive and VQA.json; big-unused.bin was never downloaded


def test_two_preparations_of_one_snapshot_take_turns(tmp_path):
    """Two stages sharing images (PubMedVision's for PMCRefined and the PubMedVision baseline) run
    at once: one extracts, the other waits on the lock and reuses the folder."""
    import threading
    snap = snapshot(tmp_path)
    make_zip(snap / "images_0.zip", {f"img{i}.jpg": bytes([i]) * 2000 for i in range(200)})
    store = tmp_path / "store"
    results = []

    def one(n):
        results.append(subprocess.run(
            [sys.executable, "-m", "workbench_data.prepare", "--out", str(tmp_path / f"out{n}"), "--image-store", str(store),
             "--archives", str(snap)], env=dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
            capture_output=True, text=True, timeout=60))
    threads = [threading.Thread(target=one, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    assert sorted("(extracted now)" in r.stdout for r in results) == [False, False, True], [r.stdout for r in results]
    folder = store / ("datasets--org--imgs--" + "a" * 40)
    assert len(os.listdir(folder)) == 200
    assert sorted(p.name for p in store.iterdir()) == sorted([folder.name, folder.name + ".complete", folder.name + ".lock"])
    assert all(os.path.realpath(tmp_path / f"out{n}" / "images") == str(folder) for n in range(3))


@needs_binary
def test_the_recipe_takes_plain_files_and_a_folder_put_there_by_hand(tmp_path):
    """A source no hub repository serves (LLaVA-Med's): its instructions a plain file fetched by URL
    and SHA-256 through the files mirror (LLaVA-Med's own spelling `conversatons`), its image-caption
    pairs a local file, its images a folder put there by hand."""
    import hashlib
    files = tmp_path / "served"
    files.mkdir()
    row = llava_row("34713897_F1.jpg")
    row["conversatons"] = row.pop("conversations")
    (files / "instruct.json").write_text(json.dumps([row]))
    sha = hashlib.sha256((files / "instruct.json").read_bytes()).hexdigest()
    figures = tmp_path / "provided" / "pmc-figures"
    figures.mkdir(parents=True)
    (figures / "34713897_F1.jpg").write_bytes(b"F1")
    (figures / "34713897_F2.jpg").write_bytes(b"F2")
    pairs = tmp_path / "provided" / "pairs.json"
    pairs.write_text(json.dumps([llava_row("34713897_F2.jpg", answer="A caption.")]))
    config = {"repos": {}, "files": {"example.org/med/instruct.json": str(files / "instruct.json")}}
    recipe = os.path.join(REPO, "experiments", "adamllm", "recipes", "prepare-data.sh")
    with hub_host(tmp_path, config) as env:
        env["WORKBENCH"] = BINARY
        env["WORKBENCH_FILES_MIRROR"] = env["HF_ENDPOINT"] + "/files"
        out = tmp_path / "stage" / "data"
        run = subprocess.run(["bash", recipe, str(out), str(tmp_path / "store"), str(figures), "-",
                              str(pairs), "-", f"https://example.org/med/instruct.json#sha256={sha}", "-"],
                             env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        assert "images: 2 in" in run.stdout and "(given)" in run.stdout
        # A digest the file does not have fails the stage.
        bad = subprocess.run(["bash", recipe, str(tmp_path / "bad"), str(tmp_path / "store"), str(figures), "-", "-", "-",
                              "https://example.org/med/instruct.json#sha256=" + "0" * 64, "-"],
                             env=env, capture_output=True, text=True, timeout=120)
        assert bad.returncode != 0 and "does not match" in bad.stderr, bad.stderr
        # A folder not put there yet fails, saying where.
        empty = subprocess.run(["bash", recipe, str(tmp_path / "empty"), str(tmp_path / "store"), str(tmp_path / "nothing"), "-",
                                "-", "-", "-", "-"], env=env, capture_output=True, text=True, timeout=120)
        assert empty.returncode != 0 and "no images there" in empty.stderr, empty.stderr
    assert json.loads((out / "instructions.json").read_text()) == [
        {"messages": [{"role": "user", "content": "<image>\nWhat is shown?"}, {"role": "assistant", "content": "A cell."}],
         "images": ["34713897_F1.jpg"]}]
    assert json.loads((out / "image_caption_pairs.json").read_text())[0]["images"] == ["34713897_F2.jpg"]
    assert os.path.realpath(out / "images") == str(figures)
    manifest = json.loads((out / "manifests" / "instructions.json").read_text())
    assert manifest["kind"] == "file" and manifest["commit"] == sha and manifest["repo"] == "https://example.org/med/instruct.json"
