"""The upstream programs' environment locks (experiments/adamllm/environments/*.txt): installable with
`pip install --require-hashes --no-deps`, holding what the upstream commands need where their docs'
install leaves it out, and the rehearsal's CPU lock the paper's LLaMA-Factory lock but for what a
CPU forces. No network, no torch: the lock files are read as text."""
import os
import re

ENVS = os.path.join(os.path.dirname(__file__), "..", "..", "experiments", "adamllm", "environments")
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+) \\$")


def lock(name):
    """{package: version} of a lock, checking every requirement is pinned with a SHA-256."""
    pins, current, header = {}, None, {}
    for line in open(os.path.join(ENVS, f"{name}.txt")):
        line = line.rstrip("\n")
        if line.startswith("# ") and ":" in line:
            key, _, value = line[2:].partition(":")
            header.setdefault(key.strip(), value.strip())
        if not line or line.startswith("#"):
            continue
        m = PIN.match(line)
        if m:
            current = m.group(1).lower()
            pins[current] = m.group(2)
            continue
        assert line.startswith("    --hash=sha256:") and current, f"{name}.txt: not a hashed pin: {line!r}"
    return pins, header


def test_every_lock_is_hash_pinned_and_names_its_python():
    for name in ("llama-factory", "llama-factory-cpu", "vllm", "llava"):
        pins, header = lock(name)
        assert pins, name
        assert header.get("python") in ("3.10", "3.11"), (name, header)
        text = open(os.path.join(ENVS, f"{name}.txt")).read()
        for pkg in pins:  # every package has at least one hash right after its pin line
            assert re.search(rf"^{re.escape(pkg)}==\S+ \\\n    --hash=sha256:[0-9a-f]{{64}}", text, re.M | re.I), (name, pkg)


def test_llama_factory_lock_holds_the_pinned_commits_versions_and_deepspeed():
    pins, _ = lock("llama-factory")
    # The newest each range of LLaMA-Factory 070b0612's requirements.txt allows.
    assert pins["transformers"] == "4.52.3" and pins["datasets"] == "3.6.0" and pins["accelerate"] == "1.7.0"
    assert pins["peft"] == "0.15.2" and pins["trl"] == "0.9.6" and pins["tokenizers"] == "0.21.1"
    # The docs install `.[torch,metrics]` without the deepspeed extra, yet their training command
    # passes --deepspeed examples/deepspeed/ds_z*_config.json, which needs DeepSpeed installed.
    assert pins["deepspeed"] == "0.16.5"
    assert pins["torch"] == "2.6.0" and pins["torchvision"] == "0.21.0"


def test_cpu_lock_differs_from_the_paper_lock_only_where_a_cpu_forces_it():
    paper, _ = lock("llama-factory")
    cpu, cpu_header = lock("llama-factory-cpu")
    assert cpu["torch"] == "2.13.0+cpu" and cpu_header["python"] == "3.11"
    differ = {k for k in cpu if k in paper and cpu[k] != paper[k]}
    assert differ <= {"torch", "sympy"}, differ  # sympy: the one torch pins
    assert set(cpu) - set(paper) <= {"setuptools"}, set(cpu) - set(paper)
    gpu_only = {k for k in set(paper) - set(cpu) if not k.startswith("nvidia-")}
    assert gpu_only <= {"triton", "torchvision", "deepspeed", "hjson", "ninja", "py-cpuinfo",
                        "async-timeout", "exceptiongroup"}, gpu_only  # the last two: Python 3.10 backports


def test_vllm_lock_holds_what_the_upstream_inference_imports():
    pins, _ = lock("vllm")
    assert pins["vllm"] == "0.6.4.post1"
    # vllm_inference imports these; the README's `pip install vllm` does not install them.
    for pkg in ("rouge", "scikit-learn", "jsonlines", "more-itertools", "datasets"):
        assert pkg in pins, pkg


def test_llava_lock_keeps_qa_synthesizers_exact_pins():
    pins, _ = lock("llava")
    for pkg, version in {"torch": "2.1.2", "torchvision": "0.16.2", "transformers": "4.37.2", "tokenizers": "0.15.1",
                         "accelerate": "0.21.0", "deepspeed": "0.12.6", "scikit-learn": "1.2.2"}.items():
        assert pins[pkg] == version, (pkg, pins.get(pkg))
    text = open(os.path.join(ENVS, "llava.txt")).read()
    assert re.search(r"^# no-build-isolation: flash-attn==\S+ --hash=sha256:[0-9a-f]{64}$", text, re.M)
