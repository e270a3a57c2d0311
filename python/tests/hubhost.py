"""The project's hub look-alike (scripts/hub-test-host.py) for the tests that drive `workbench fetch`,
and the built binary those tests run."""
import contextlib
import json
import os
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("WORKBENCH_BIN", os.path.join(REPO, ".build", "debug", "workbench"))
# Skips a test that runs the binary when none is built (CI sets WORKBENCH_REQUIRE_BINARY=1: never skip).
needs_binary = pytest.mark.skipif(not os.path.exists(BINARY) and os.environ.get("WORKBENCH_REQUIRE_BINARY") != "1",
                                  reason="no workbench binary (swift build first)")


def repo(commit, files, ref="main"):
    """One repository of the look-alike's config: `ref` -> `commit`, which holds `files` (path -> local file)."""
    return {"refs": {ref: commit}, "commits": {commit: {path: str(local) for path, local in files.items()}}}


@contextlib.contextmanager
def hub_host(tmp_path, config):
    """Serves `config` on 127.0.0.1 while the block runs; yields an environment (no inherited HF_
    variables) whose HF_ENDPOINT is the host and HF_HOME a fresh folder under tmp_path."""
    (tmp_path / "hub-config.json").write_text(json.dumps(config))
    port_file = tmp_path / "hub-port"
    host = subprocess.Popen([sys.executable, os.path.join(REPO, "scripts", "hub-test-host.py"),
                             "--config", str(tmp_path / "hub-config.json"), "--port-file", str(port_file)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if port_file.exists():
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("the hub look-alike did not start within 10 s")
        env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
        env.update(HF_HOME=str(tmp_path / "hf"), HF_ENDPOINT=f"http://127.0.0.1:{port_file.read_text()}")
        yield env
    finally:
        host.kill()
        host.wait()
