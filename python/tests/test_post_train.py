"""workbench_data.post_train: the post-training file of a synthesis output through the upstream
formatting functions, keeping each row's images (upstream format_post_train_data.py drops them),
and the Table 5 "w/o consistency filter" variants. The upstream checkout is a stand-in here with
the same module layout and the behaviour the module relies on: process_entry calls the module's
cook_classified_entry, seeds the caption turn's place with the example id, prepends <image>."""
import json
import os
import subprocess
import sys
import textwrap

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

READ_COMPRE_PT = '''
import dataclasses

@dataclasses.dataclass
class FewShotPattern:
    inputs: str
    targets: str

FEWSHOT_PATTERNS = {"qa": [FewShotPattern("Q: {question}", "A: {answer}"), FewShotPattern("{question}?", "{answer}!")]}
'''

SYN_UTILS = '''
import random
import process.read_compre_pt as rc_pt_utils

def cook_classified_entry(entry):
    if entry["pred"].strip().lower() != "yes":
        return []
    qa = entry["collected_QA"]
    return [{"from": "human", "value": qa["Q"]}, {"from": "gpt", "value": qa["informative_A"] + " So " + qa["precise_A"]}]

def process_entry(id, entry, image_token, train_on_syn_only=False):
    if entry["pred"] is None:
        return None
    syn = cook_classified_entry(entry)
    caption = []
    if not train_on_syn_only:
        m = entry.pop("messages")
        caption = [{"from": "human", "value": m[0]["content"].replace("<image>", "")}, {"from": "gpt", "value": m[1]["content"]}]
    place = random.Random(id).choice(["start", "end"])
    conversations = caption + syn if place == "start" else syn + caption
    if not conversations:
        return None
    conversations[0]["value"] = image_token + "\\n" + conversations[0]["value"]
    entry["conversations"] = conversations
    return entry
'''


def checkout(tmp_path):
    qa = tmp_path / "qa"
    (qa / "process").mkdir(parents=True)
    (qa / "process" / "read_compre_pt.py").write_text(READ_COMPRE_PT)
    (qa / "process" / "syn_utils.py").write_text(SYN_UTILS)
    return qa


def row(syn_id, image, label, q="What is it?"):
    return {"syn_id": syn_id, "images": [image], "pred": label,
            "messages": [{"role": "user", "content": "<image>Describe."}, {"role": "assistant", "content": f"caption {syn_id}"}],
            "collected_QA": {"Q": q, "precise_A": f"p{syn_id}", "informative_A": f"i{syn_id}"}}


def run(tmp_path, *args):
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
    return subprocess.run([sys.executable, "-m", "workbench_data.post_train", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def setup(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        try:
            from PIL import Image
            Image.new("RGB", (2, 2)).save(images / name)
        except ImportError:   # without Pillow the module checks that the file exists
            (images / name).write_bytes(b"")
    (images / "broken.png").write_bytes(b"not an image")
    filtered = tmp_path / "filtered_task_pairs.jsonl"
    rows = [row(0, "a.png", "Yes"), row(1, "missing.png", "Yes"), row(2, "b.png", "No"), row(3, "c.png", "Open")]
    try:
        import PIL  # noqa: F401 (with Pillow, a file that is not an image is skipped as upstream skips it)
        rows.insert(2, row(9, "broken.png", "Yes"))
    except ImportError:
        pass
    rows.append({**row(4, "c.png", None)})
    filtered.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return images, filtered


def test_rows_keep_their_images_and_the_upstream_turns(tmp_path):
    qa = checkout(tmp_path)
    images, filtered = setup(tmp_path)
    out = tmp_path / "train.json"
    r = run(tmp_path, "--qa", str(qa), "--filtered", str(filtered), "--image-folder", str(images), "--out", str(out))
    assert r.returncode == 0, r.stderr
    data = json.loads(out.read_text())
    # Row 1's image is missing (skipped, as upstream skips a row whose image does not open); rows 2
    # and 3 keep only their caption turn (the checker did not say yes); row 4 has no label.
    assert [d["images"] for d in data] == [["a.png"], ["b.png"], ["c.png"]]
    assert data[0]["messages"][0]["content"].startswith("<image>\n")
    assert {"role": "assistant", "content": "i0 So p0"} in data[0]["messages"]
    assert all(m["role"] in ("user", "assistant") for d in data for m in d["messages"])
    assert len(data[1]["messages"]) == 2 and data[1]["messages"][1]["content"] == "caption 2"
    assert "3 rows (filtered answers; " in r.stdout and " skipped: image does not open" in r.stdout


def test_the_example_id_counts_kept_rows_as_upstream_does(tmp_path):
    """The id seeds where the caption turn goes; upstream passes the number of rows kept so far,
    so a row after a skipped one gets id 0 here (caption last), not its index 1 (caption first)."""
    import random
    assert random.Random(0).choice(["start", "end"]) == "end" and random.Random(1).choice(["start", "end"]) == "start"
    qa = checkout(tmp_path)
    images, _ = setup(tmp_path)
    filtered = tmp_path / "two.jsonl"
    filtered.write_text(json.dumps(row(0, "missing.png", "Yes")) + "\n" + json.dumps(row(1, "a.png", "Yes")) + "\n")
    out = tmp_path / "train.json"
    r = run(tmp_path, "--qa", str(qa), "--filtered", str(filtered), "--image-folder", str(images), "--out", str(out))
    assert r.returncode == 0, r.stderr
    messages = json.loads(out.read_text())[0]["messages"]
    assert messages[0]["content"] == "<image>\nWhat is it?" and messages[-1]["content"] == "caption 1"


def test_without_the_filter_every_question_is_answered_with_one_response(tmp_path):
    qa = checkout(tmp_path)
    images, filtered = setup(tmp_path)
    for which in ("precise", "informative"):
        out = tmp_path / f"{which}.json"
        r = run(tmp_path, "--qa", str(qa), "--filtered", str(filtered), "--image-folder", str(images), "--out", str(out),
                "--answers", which, "--syn-only")
        assert r.returncode == 0, r.stderr
        data = json.loads(out.read_text())
        assert [d["images"] for d in data] == [["a.png"], ["b.png"], ["c.png"]]   # "No" and "Open" rows too
        answers = [d["messages"][1]["content"] for d in data]
        assert all(a.endswith(f"{which[0]}{i}") or a.endswith(f"{which[0]}{i}!") for a, i in zip(answers, (0, 2, 3))), answers
        assert all(len(d["messages"]) == 2 for d in data)   # --syn-only: no caption turn


def test_bad_input_is_named(tmp_path):
    qa = checkout(tmp_path)
    images, _ = setup(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"syn_id": 0}\nnot json\n')
    r = run(tmp_path, "--qa", str(qa), "--filtered", str(bad), "--image-folder", str(images), "--out", str(tmp_path / "o.json"))
    assert r.returncode == 1 and f"{bad}:2: not a JSON line" in r.stderr, r.stderr
    r = run(tmp_path, "--qa", str(tmp_path), "--filtered", str(bad), "--image-folder", str(images), "--out", str(tmp_path / "o.json"))
    assert r.returncode == 1 and "no process/syn_utils.py" in r.stderr, r.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text(json.dumps(row(0, "gone.png", "Yes")) + "\n")
    r = run(tmp_path, "--qa", str(qa), "--filtered", str(empty), "--image-folder", str(images), "--out", str(tmp_path / "o.json"))
    assert r.returncode == 1 and "no row left to train on (1 skipped" in r.stderr, r.stderr
    assert not (tmp_path / "o.json").exists()
