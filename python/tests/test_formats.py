"""Data formats: pairs JSON, benchmark JSONL, tasks JSONL, ShareGPT + dataset_info.json (no torch)."""
import json
import os

from workbench_smoke import format as fmt
from workbench_smoke import gen_data, rules, world


def make_data(tmp_path, n=12, m=14):
    gen_data.main(["--out-pairs", str(tmp_path / "pairs"), "--out-bench", str(tmp_path / "bench"),
                   "--n-train", str(n), "--n-bench", str(m), "--seed", "3"])
    return tmp_path / "pairs", tmp_path / "bench"


def test_pairs_are_upstream_sharegpt(tmp_path):
    pairs_dir, _ = make_data(tmp_path)
    pairs = json.loads((pairs_dir / "image_caption_pairs.json").read_text())
    assert len(pairs) == 12
    for p in pairs:
        assert set(p) == {"images", "messages"}
        assert [m["role"] for m in p["messages"]] == ["user", "assistant"]
        assert p["messages"][0]["content"].startswith("<image>")
        assert not os.path.isabs(p["images"][0]) and (pairs_dir / p["images"][0]).is_file()
        assert world.parse_caption(p["messages"][1]["content"]) is not None


def test_benchmark_rows(tmp_path):
    _, bench_dir = make_data(tmp_path)
    rows = [json.loads(l) for l in (bench_dir / "benchmark.jsonl").read_text().splitlines()]
    assert [r["syn_id"] for r in rows] == list(range(14))
    kinds = set()
    for r in rows:
        assert (bench_dir / r["image"]).is_file() and r["input"]
        if "A" in r:
            assert set("ABCD") <= set(r) and r["label"] in "ABCD" and "answer_type" not in r
            kinds.add("MC")
        else:
            assert r["answer_type"] in ("OPEN", "CLOSED")
            kinds.add(r["answer_type"])
            if r["answer_type"] == "CLOSED":
                assert r["label"] in ("yes", "no")
    assert kinds == {"OPEN", "CLOSED", "MC"}


def test_generation_is_deterministic(tmp_path):
    a, _ = make_data(tmp_path / "1")
    b, _ = make_data(tmp_path / "2")
    assert (a / "image_caption_pairs.json").read_bytes() == (b / "image_caption_pairs.json").read_bytes()
    assert (a / "images/pair_0005.png").read_bytes() == (b / "images/pair_0005.png").read_bytes()


def test_rules_and_sharegpt_layout(tmp_path):
    pairs_dir, _ = make_data(tmp_path)
    rules.main(["--pairs", str(pairs_dir), "--out", str(tmp_path / "rules.jsonl")])
    rows = [json.loads(l) for l in (tmp_path / "rules.jsonl").read_text().splitlines()]
    assert len(rows) == 36
    for r in rows:
        assert {"syn_id", "image", "images", "messages", "instruction", "precise", "informative",
                "collected_QA", "pred", "source"} <= set(r)
        assert r["pred"] == "Yes" and r["collected_QA"]["Q"] == r["instruction"]
    rows[0]["pred"] = "No"  # a rejected task must not reach the training data
    (tmp_path / "mixed.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for pipeline, names in (("single", ["image_caption_and_synthetic_task"]),
                            ("two", ["image_caption", "synthetic_task"])):
        out = tmp_path / f"data-{pipeline}"
        fmt.main(["--tasks", str(tmp_path / "mixed.jsonl"), "--pairs", str(pairs_dir),
                  "--pipeline", pipeline, "--out", str(out)])
        info = json.loads((out / "dataset_info.json").read_text())
        assert list(info) == names
        for name in names:
            spec = info[name]
            assert spec["formatting"] == "sharegpt"
            assert spec["columns"] == {"messages": "messages", "images": "images"}
            assert spec["tags"] == {"role_tag": "role", "content_tag": "content",
                                    "user_tag": "user", "assistant_tag": "assistant"}
            data = json.loads((out / spec["file_name"]).read_text())
            for e in data:
                roles = [m["role"] for m in e["messages"]]
                assert roles == ["user", "assistant"] * (len(roles) // 2)
                assert e["messages"][0]["content"].startswith("<image>\n")
                assert sum("<image>" in m["content"] for m in e["messages"]) == 1
                assert (out / e["images"][0]).is_file()
    single = json.loads((tmp_path / "data-single/image_caption_and_synthetic_task.json").read_text())
    assert len(single) == 35  # one conversation per kept task (caption + task)
    two = json.loads((tmp_path / "data-two/image_caption.json").read_text())
    assert len(two) == 12 and all(len(e["messages"]) == 2 for e in two)


def test_task_answer_follows_upstream_indicator_rule():
    assert fmt.task_answer("red", "The shape is red, so the colour is red.") == \
        "The shape is red, so the colour is red."
    assert fmt.task_answer("red", "The shape is red.") == "The shape is red. red"
