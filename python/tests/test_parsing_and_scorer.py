"""Synthesis output parsing and the upstream-mimicking scorer (no torch)."""
import json
import os

import pytest

from workbench_smoke import scorer, tasks, world

P, I = world.PRECISE_HINT, world.INFORMATIVE_HINT
A = "<|im_end|>\n<|im_start|>assistant\n"
U = "<|im_end|>\n<|im_start|>user\n"


def test_parse_triplet_either_order_and_drop_incomplete():
    text = (f"{I}\nIs the shape red?{A}The shape is red, so the answer is yes.{U}"
            f"{P}\nIs the shape red?{A}yes{U}{P}\nWhat shape is shown?{A}circ")
    qa = tasks.parse_qa(text)
    assert qa == [(f"{I}\nIs the shape red?", "The shape is red, so the answer is yes."),
                  (f"{P}\nIs the shape red?", "yes")]
    assert tasks.collect_triplets(qa, P, I) == [
        {"Q": "Is the shape red?", "precise_A": "yes", "informative_A": "The shape is red, so the answer is yes."}]


def test_parse_unmatched_questions_and_garbage():
    text = f"{P}\nWhat colour?{A}red{U}{I}\nWhat shape?{A}A circle.<|im_end|>\n<|endoftext|>"
    qa = tasks.parse_qa(text)
    assert len(qa) == 2 and tasks.collect_triplets(qa, P, I) == []
    assert tasks.parse_qa("") == [] and tasks.parse_qa("random words <|im_end|>") == []
    assert tasks.parse_qa(f"no hint{A}{U}") == []  # empty answer


@pytest.mark.parametrize("pred", ["", "   ", ".", "?!", "...", ",;:"])
def test_empty_and_punctuation_only_predictions(pred):
    open_row = {"syn_id": 1, "input": "q", "label": "red", "pred": pred, "answer_type": "OPEN"}
    closed_row = {"syn_id": 2, "input": "q", "label": "no", "pred": pred, "answer_type": "CLOSED"}
    mc_row = {"syn_id": 3, "input": "q", "label": "B", "pred": pred, "A": "red", "B": "blue", "C": "x", "D": "y"}
    assert scorer.score_row(open_row) == {"score": {"recall": 0.0}}
    assert scorer.score_row(closed_row) == {"score": {"yes/no accuracy": 0.0}}
    s = scorer.score_row(mc_row)
    assert s["random_selected"] is True and s["pred_option"] in "ABCD"


def test_scorer_quirks():
    assert scorer.closed_accuracy("it is not", "no") == 100.0  # "no" inside "not"
    assert scorer.open_recall("two red circles", "2") == 100.0  # number words normalized
    assert scorer.open_recall("the red", "red blue") == 50.0
    opts = {"A": "red", "B": "blue", "C": "green", "D": "yellow"}
    assert scorer.parse_choice("The answer is blue.", list("ABCD"), opts, 0) == ("B", False)
    assert scorer.parse_choice("(C) or maybe (A)", list("ABCD"), opts, 0) == ("A", False)
    agg = scorer.aggregate([{"syn_id": 0, "label": "red", "pred": "red", "answer_type": "OPEN"}])
    assert agg["open_recall"] == 1.0 and agg["closed_acc"] == 0.0 and agg["n_mc"] == 0


# The repository's copy of the upstream parity set (Tests/ScoringTests/Fixtures, origin in its README).
PARITY = os.environ.get("WORKBENCH_PARITY_DIR", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "ScoringTests", "Fixtures", "scoring-parity"))


@pytest.mark.parametrize("task", ["SLAKE", "VQA_RAD", "PathVQA", "PMC_VQA"])
def test_parity_with_upstream_per_example_scores(task):
    base = os.path.join(PARITY, task)
    rows = [json.loads(l) for l in open(os.path.join(base, "predictions.jsonl"))]
    expected = {json.loads(l)["syn_id"]: json.loads(l)
                for l in open(os.path.join(base, "expected_per_example.jsonl"))}
    for r in rows:
        got, want = scorer.score_row(r), expected[r["syn_id"]]
        if "acc" in got:
            assert (got["acc"], str(got["pred_option"]), got["random_selected"]) == \
                (want["acc"], str(want["pred_option"]), want["random_selected"]), r
        else:
            key = next(iter(got["score"]))
            assert got["score"][key] == pytest.approx(want["score"][key]), r
