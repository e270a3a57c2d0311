"""The torch stages: exit codes and one tiny end-to-end chain (trained beats untrained, and a
rerun is bit-identical at one thread). Stages run in-process to pay the import once."""
import json
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from workbench_smoke import common  # noqa: E402
from workbench_smoke import evaluate, filter as filt, format as fmt, gen_data, rules, train, train_judge  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(main, argv):
    """Run a stage like `python -m`, returning its exit code."""
    try:
        common.run_stage("test", main, argv)
    except SystemExit as e:
        return e.code
    return 0


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("chain")
    gen_data.main(["--out-pairs", str(d / "pairs"), "--out-bench", str(d / "bench"),
                   "--n-train", "96", "--n-bench", "28", "--seed", "0"])
    rules.main(["--pairs", str(d / "pairs"), "--out", str(d / "rules.jsonl")])
    fmt.main(["--tasks", str(d / "rules.jsonl"), "--pairs", str(d / "pairs"), "--pipeline", "single",
              "--out", str(d / "data")])
    return d


def test_missing_torch_exits_3(tmp_path):
    fake = tmp_path / "torch"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('simulated: no torch here')\n")
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}")
    r = subprocess.run([sys.executable, "-m", "workbench_smoke.train", "--data", "x", "--pipeline", "single",
                        "--out", str(tmp_path / "o")], env=env, capture_output=True, text=True)
    assert r.returncode == 3
    assert len(r.stderr.strip().splitlines()) == 1 and "scripts/setup-ml.sh" in r.stderr


def test_chain_trained_beats_untrained_and_rerun_is_identical(data, monkeypatch):
    metrics_file = data / "metrics.jsonl"
    monkeypatch.setenv("WORKBENCH_METRICS", str(metrics_file))
    preds = {}
    for name in ("run1", "run2"):
        assert run(train.main, ["--data", str(data / "data"), "--pipeline", "single", "--out",
                                str(data / name), "--steps", "300", "--model-size", "a"]) == 0
        assert run(evaluate.main, ["--model", str(data / name / "final"), "--bench", str(data / "bench"),
                                   "--out", str(data / f"{name}.jsonl")]) == 0
        preds[name] = (data / f"{name}.jsonl").read_bytes()
    assert run(evaluate.main, ["--untrained-size", "a", "--bench", str(data / "bench"),
                               "--out", str(data / "untrained.jsonl")]) == 0
    assert preds["run1"] == preds["run2"]
    assert os.path.isdir(data / "run1" / "checkpoint-300")
    lines = [json.loads(l) for l in metrics_file.read_text().splitlines()]
    losses = [m for m in lines if m["name"] == "train/loss"]
    assert losses[0]["step"] == 10 and losses[-1]["value"] < 0.5 * losses[0]["value"]
    means = [m["value"] for m in lines if m["name"] == "eval/mean"]
    trained, untrained = means[0], means[2]
    assert means[0] == means[1]
    assert trained > untrained + 0.2, (trained, untrained)
    rows = [json.loads(l) for l in (data / "run1.jsonl").read_text().splitlines()]
    assert all({"syn_id", "input", "label", "pred"} <= set(r) for r in rows)
    # Re-running the finished stage resumes from its last checkpoint and changes nothing;
    # an interrupted one (final checkpoint lost) continues from checkpoint-150 to the same model.
    assert run(train.main, ["--data", str(data / "data"), "--pipeline", "single", "--out",
                            str(data / "run2"), "--steps", "300", "--model-size", "a"]) == 0
    assert run(evaluate.main, ["--model", str(data / "run2" / "final"), "--bench", str(data / "bench"),
                               "--out", str(data / "run2b.jsonl")]) == 0
    assert (data / "run2b.jsonl").read_bytes() == preds["run1"]
    import shutil
    shutil.rmtree(data / "run1" / "checkpoint-300")
    shutil.rmtree(data / "run1" / "final")
    assert run(train.main, ["--data", str(data / "data"), "--pipeline", "single", "--out",
                            str(data / "run1"), "--steps", "300", "--model-size", "a"]) == 0
    assert run(evaluate.main, ["--model", str(data / "run1" / "final"), "--bench", str(data / "bench"),
                               "--out", str(data / "run1b.jsonl")]) == 0
    assert (data / "run1b.jsonl").read_bytes() == preds["run1"]


def test_corrupted_checkpoint_exits_5(data, capsys):
    judge_dir = data / "judge"
    assert run(train_judge.main, ["--pairs", str(data / "pairs"), "--out", str(judge_dir), "--steps", "2",
                                  "--hidden", "16", "--layers", "1"]) == 0
    weights = judge_dir / "model.safetensors"
    raw = weights.read_bytes()
    weights.write_bytes(raw[: len(raw) // 2])
    capsys.readouterr()
    assert run(filt.main, ["--judge", str(judge_dir), "--tasks", str(data / "rules.jsonl"),
                           "--out", str(data / "f.jsonl")]) == 5
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(weights) in err
    weights.write_bytes(raw)
    # A model directory for evaluate, truncated the same way.
    model_dir = data / "run1" / "final"
    if model_dir.is_dir():
        w = model_dir / "model.safetensors"
        good = w.read_bytes()
        w.write_bytes(good[:1000])
        try:
            assert run(evaluate.main, ["--model", str(model_dir), "--bench", str(data / "bench"),
                                       "--out", str(data / "x.jsonl")]) == 5
            assert str(w) in capsys.readouterr().err
        finally:
            w.write_bytes(good)


def test_empty_filter_exits_4(data, capsys):
    judge_dir = data / "judge"
    if not (judge_dir / "config.json").is_file():
        assert run(train_judge.main, ["--pairs", str(data / "pairs"), "--out", str(judge_dir),
                                      "--steps", "2", "--hidden", "16", "--layers", "1"]) == 0
    (data / "empty.jsonl").write_text("")
    out = data / "filtered.jsonl"
    capsys.readouterr()
    assert run(filt.main, ["--judge", str(judge_dir), "--tasks", str(data / "empty.jsonl"),
                           "--out", str(out)]) == 4
    assert out.is_file() and out.read_text() == ""
    assert "no task survived" in capsys.readouterr().err
