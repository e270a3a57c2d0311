"""A full disk under a run is a clean failure: exit 74 naming the store and the space left, never
"internal error" (70); the next `workbench status` settles the stopped run. The workspace is a
4 MB tmpfs mounted for the test, so it needs root (CI runs as root: WORKBENCH_REQUIRE_TMPFS=1 makes
a missing mount a failure, not a skip)."""
import os
import subprocess

import pytest

from hubhost import BINARY, needs_binary

SPEC = """spec_version: 1
version: 1
title: fill
profiles: [default]
matrix: {}
stages:
  fill:
    outputs: { x: x.bin }
    command: "head -c 8000000 /dev/zero > ${outputs.x} 2>/dev/null; exit 0"
  after:
    outputs: { y: y.txt }
    command: wc -c < ${stages.fill.outputs.x} > ${outputs.y}
"""


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True, text=True)
    if r.returncode != 0:
        if os.environ.get("WORKBENCH_REQUIRE_TMPFS") == "1":
            pytest.fail(f"cannot mount a tmpfs: {r.stderr.strip()}")
        pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@needs_binary
def test_a_full_disk_exits_74_with_the_space_left_and_status_settles_the_run(small_disk):
    ws = small_disk / "ws"
    (ws / "experiments").mkdir(parents=True)
    (ws / "experiments" / "fill.yaml").write_text(SPEC)
    run = subprocess.run([BINARY, "run", "experiments/fill.yaml"], cwd=ws, capture_output=True, text=True, timeout=120)
    assert run.returncode == 74, run.stderr
    assert "internal error" not in run.stderr
    assert "the disk holding it is full" in run.stderr or "no space left on the device" in run.stderr, run.stderr
    assert "free now under" in run.stderr
    for x in (ws / ".workbench" / "outputs" / "fill").glob("*/x.bin"):
        x.unlink()   # space again
    status = subprocess.run([BINARY, "status"], cwd=ws, capture_output=True, text=True, timeout=60)
    runs = subprocess.run([BINARY, "runs"], cwd=ws, capture_output=True, text=True, timeout=60)
    assert status.returncode in (0, 1) and "running" not in runs.stdout.split("\n")[1], runs.stdout
