"""paper_tasks: the stand-in benchmark written as the paper's task files (smoke profile of the
paper catalog); the native scorers of the built binary accept them, right stand-in answers score
as right food answers and wrong ones as wrong (no torch)."""
import json
import subprocess

import pytest

from workbench_smoke import common, gen_data, paper_tasks

from hubhost import BINARY, needs_binary


def predictions(tmp_path, right: bool):
    """The benchmark with every answer right (the label, or the option text) or every answer wrong."""
    gen_data.main(["--out-pairs", str(tmp_path / "pairs"), "--out-bench", str(tmp_path / "bench"),
                   "--n-train", "2", "--n-bench", "56", "--seed", "101"])
    rows = common.read_jsonl(str(tmp_path / "bench" / "benchmark.jsonl"))
    wrong = {"red": "green", "green": "blue", "blue": "yellow", "yellow": "red", "circle": "square", "square": "triangle",
             "triangle": "circle", "one": "two", "two": "one", "yes": "no", "no": "yes"}
    out = []
    for r in rows:
        if "A" in r:
            letter = r["label"] if right else "ABCD"[("ABCD".index(r["label"]) + 1) % 4]
            pred = f"The answer is {r[letter]}."
        else:
            pred = r["label"] if right else wrong[r["label"]]
        out.append(dict(r, pred=pred))
    path = tmp_path / ("right.jsonl" if right else "wrong.jsonl")
    common.write_jsonl(str(path), out)
    return path


def test_biomed_rows_are_dealt_to_the_four_tasks(tmp_path):
    rows = common.read_jsonl(str(predictions(tmp_path, right=True)))
    out = paper_tasks.task_rows(rows, "biomed")
    assert set(out) == {"SLAKE", "PathVQA", "VQA_RAD", "PMC_VQA"}
    assert sum(len(v) for v in out.values()) == len(rows)
    for task in ("SLAKE", "PathVQA", "VQA_RAD"):
        types = {r["answer_type"] for r in out[task]}
        assert types == {"OPEN", "CLOSED"}, (task, types)   # both kinds in every VQA task
        assert all(set(r) == {"syn_id", "label", "pred", "answer_type"} for r in out[task])
    assert all(set(r) >= set("ABCD") | {"syn_id", "label", "pred"} for r in out["PMC_VQA"])


def test_food_names_replace_stand_in_words_in_label_and_prediction(tmp_path):
    rows = common.read_jsonl(str(predictions(tmp_path, right=False)))
    out = paper_tasks.task_rows(rows, "food")
    assert {r["label"] for r in out["Food101"]} <= {"pizza", "waffles", "nachos"}
    assert all(r["pred"] in {"pizza", "waffles", "nachos"} and r["pred"] != r["label"] for r in out["Food101"])
    assert all(len(r["label"]) == 1 and r["label"][0] in {"tomato", "broccoli", "blueberry", "banana"} for r in out["FoodSeg103"])
    assert all(r["label"][0] in {"tomatoes", "broccoli", "blueberries", "banana"} for r in out["Nutrition5K"])
    assert paper_tasks.rename("Two red circles and one blue square.", paper_tasks.SHAPE_FOOD101) == "Two red pizza and one blue waffles."
    with pytest.raises(common.StageError, match="unknown domain"):
        paper_tasks.task_rows(rows, "remote-sensing")


@needs_binary
@pytest.mark.parametrize("domain", ["biomed", "food"])
def test_the_native_scorers_score_the_task_files(tmp_path, domain):
    scores = {}
    for right in (True, False):
        d = tmp_path / f"{domain}-{right}"
        paper_tasks.main(["--predictions", str(predictions(tmp_path, right)), "--domain", domain, "--out", str(d)])
        for task in paper_tasks.TASKS[domain]:
            r = subprocess.run([BINARY, "score", "--task", task, "--predictions", str(d / f"{task}.jsonl")],
                               capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
            result = json.loads(r.stdout)   # upstream's aggregate: {"test_num": N, KEY: value, ...}
            assert result["test_num"] > 0
            scores[(task, right)] = [v for k, v in result.items() if k != "test_num"]
    for task in paper_tasks.TASKS[domain]:
        assert all(v > 99.999 for v in scores[(task, True)]), (task, scores[(task, True)])   # ROUGE-L: 99.9999995
        assert all(v < 100 for v in scores[(task, False)]), (task, scores[(task, False)])
