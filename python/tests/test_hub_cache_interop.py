"""`workbench fetch` fills the Hugging Face cache so that huggingface_hub and transformers load the
model offline: a tiny Qwen2 model saved by transformers is served by the project's hub look-alike
(scripts/hub-test-host.py), fetched by the built workbench binary, then loaded with
HF_HUB_OFFLINE=1 by its hub id alone."""
import subprocess
import sys

from hubhost import BINARY, hub_host, needs_binary, repo

COMMIT = "5" * 40


@needs_binary
def test_fetched_snapshot_loads_offline_with_transformers(tmp_path):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, Qwen2Config

    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=32)
    model = AutoModelForCausalLM.from_config(config)
    src = tmp_path / "model"
    model.save_pretrained(src)
    files = {p.relative_to(src).as_posix(): str(p) for p in src.rglob("*") if p.is_file()}
    assert "model.safetensors" in files and "config.json" in files
    config = {"repos": {"models/tiny-org/tiny-qwen2": repo(COMMIT, files)}}
    with hub_host(tmp_path, config) as env:
        out = subprocess.run([BINARY, "fetch", "tiny-org/tiny-qwen2@main", "--quiet"], env=env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
    # Offline, by hub id only, the way the stages' tools will look it up.
    code = (
        "import torch; from transformers import AutoConfig, AutoModelForCausalLM;"
        "from huggingface_hub import snapshot_download;"
        "p = snapshot_download('tiny-org/tiny-qwen2', local_files_only=True);"
        "c = AutoConfig.from_pretrained('tiny-org/tiny-qwen2');"
        "m = AutoModelForCausalLM.from_pretrained('tiny-org/tiny-qwen2');"
        "print(p); print(c.hidden_size); print(float(sum(x.double().sum() for x in m.parameters())))"
    )
    env["HF_HUB_OFFLINE"] = "1"
    env.pop("HF_ENDPOINT")
    loaded = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stderr
    path, hidden, total = loaded.stdout.split()
    assert path.endswith(f"models--tiny-org--tiny-qwen2/snapshots/{COMMIT}")
    assert int(hidden) == 16
    expected = float(sum(x.detach().double().sum() for x in model.parameters()))
    assert abs(float(total) - expected) < 1e-9
