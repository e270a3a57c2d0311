"""recipes/python-env.sh, the env-* stages' builder, on a one-package lock: it builds a venv of the
lock's Python with exactly the hashed packages and records their freeze, refuses a package whose
SHA-256 differs (pip's --require-hashes, against the real index), and names what is wrong with a
lock or an interpreter before doing anything. Needs the package index (as the stages do)."""
import os
import subprocess
import sys

import pytest

REPO = os.path.join(os.path.dirname(__file__), "..", "..")
SCRIPT = os.path.join(REPO, "experiments", "adamllm", "recipes", "python-env.sh")
SIX = "8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254"  # six-1.16.0-py2.py3-none-any.whl
PY = f"{sys.version_info[0]}.{sys.version_info[1]}"


def build(tmp_path, lock_text, python=None):
    lock = tmp_path / "env.txt"
    lock.write_text(lock_text)
    python = python or str(tmp_path / "out" / "env" / "bin" / "python")
    env = dict(os.environ, **{f"PYTHON_{PY.replace('.', '_')}": sys.executable})
    r = subprocess.run(["bash", SCRIPT, str(lock), python, str(tmp_path / "out" / "freeze.txt")],
                       capture_output=True, text=True, env=env, timeout=300)
    return r, python


def test_builds_exactly_the_locked_packages_and_records_their_freeze(tmp_path):
    r, python = build(tmp_path, f"# python: {PY}\nsix==1.16.0 \\\n    --hash=sha256:{SIX}\n")
    assert r.returncode == 0, r.stderr
    freeze = (tmp_path / "out" / "freeze.txt").read_text()
    assert "six==1.16.0" in freeze and "six==1.16.0" in r.stdout
    out = subprocess.run([python, "-c", "import six, sys; print(six.__version__, sys.prefix)"],
                         capture_output=True, text=True)
    assert out.stdout.split()[0] == "1.16.0" and out.stdout.split()[1].endswith("out/env")


def test_a_package_whose_digest_differs_stops_the_build(tmp_path):
    r, _ = build(tmp_path, f"# python: {PY}\nsix==1.16.0 \\\n    --hash=sha256:{'0' * 64}\n")
    assert r.returncode != 0
    assert "HASHES" in r.stderr.upper() and not (tmp_path / "out" / "freeze.txt").exists()


@pytest.mark.parametrize("lock_text, python, message", [
    ("six==1.16.0\n", None, "has no '# python: X.Y' line"),
    (f"# python: {PY}\n", "/tmp/somewhere/python3", "PYTHON must end in /bin/python"),
    ("# python: 2.9\n", None, "needs Python 2.9"),
])
def test_refusals_name_what_is_wrong(tmp_path, lock_text, python, message):
    r, _ = build(tmp_path, lock_text, python)
    assert r.returncode != 0 and message in r.stderr, r.stderr
