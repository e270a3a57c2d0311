"""The LLaVA-to-LLaVA-NeXT conversion (workbench_convert.llava_next) on a tiny checkpoint in the
layout LLaVA's trainer saves (workbench_rehearsal.tiny_models --family llava): the converted folder
loads in transformers' LlavaNext classes with every weight used, and answers as the checkpoint did.

"As the checkpoint did" is computed here from the checkpoint's own tensors: its language model
loaded alone as a LlamaForCausalLM, and its image path as LLaVA's code defines it (the CLIP tower's
second-to-last layer without the CLS position, then mm_projector's Linear-GELU-Linear). LLaVA's
own model class is not run: it is QA-Synthesizer's code, which is not redistributable and not
reachable from CI. The tiles' packing (anyres grid, unpadding, the newline vector) is transformers'
implementation of LLaVA-1.6's, applied to both sides; what the test pins is that every tensor went
where LLaVA uses it.
"""
import json
import os
import shutil
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from safetensors.torch import load_file, save_file  # noqa: E402

from workbench_convert import llava_next  # noqa: E402
from workbench_rehearsal import tiny_models  # noqa: E402
from workbench_smoke import world  # noqa: E402

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("llava")
    ckpt, tower, out = root / "ckpt", root / "tower", root / "converted"
    ckpt.mkdir()
    tower.mkdir()
    tiny_models.llava(str(ckpt), world.corpus(), str(tower))
    run = subprocess.run([sys.executable, "-m", "workbench_convert.llava_next", "--checkpoint", str(ckpt),
                          "--vision-tower", str(tower), "--out", str(out)],
                         cwd=PYTHON_DIR, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return ckpt, tower, out


def original(ckpt):
    """The checkpoint's pieces as LLaVA's code uses them."""
    weights = load_file(str(ckpt / "model.safetensors"))
    config = json.loads((ckpt / "config.json").read_text())
    text = transformers.LlamaConfig(**{k: v for k, v in config.items()
                                       if not k.startswith("mm_") and k not in llava_next.LLAVA_FIELDS})
    lm = transformers.LlamaForCausalLM(text)
    missing, unexpected = lm.load_state_dict(
        {k: v for k, v in weights.items() if k.startswith("lm_head.") or
         (k.startswith("model.") and not k.startswith(("model.vision_tower.", "model.mm_projector.", "model.image_newline")))},
        strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    tower_config = transformers.CLIPConfig.from_pretrained(str(ckpt.parent / "tower")).vision_config
    tower = transformers.CLIPVisionModel(tower_config)
    prefix = "model.vision_tower.vision_tower."
    if not next(iter(tower.state_dict())).startswith("vision_model."):
        prefix += "vision_model."  # transformers 5 names the tower's weights without that level
    tower.load_state_dict({k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)})

    def image_path(pixels):  # llava_arch.encode_images with clip_encoder.feature_select('patch')
        hidden = tower(pixels, output_hidden_states=True).hidden_states[config["mm_vision_select_layer"]][:, 1:]
        x = torch.nn.functional.linear(hidden, weights["model.mm_projector.0.weight"], weights["model.mm_projector.0.bias"])
        x = torch.nn.functional.gelu(x)
        return torch.nn.functional.linear(x, weights["model.mm_projector.2.weight"], weights["model.mm_projector.2.bias"])

    return lm.eval(), tower.eval(), image_path, weights


def test_converted_folder_loads_every_weight(tiny):
    _, _, out = tiny
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "llava_next"
    assert config["architectures"] == ["LlavaNextForConditionalGeneration"]
    assert config["vision_feature_layer"] == -2 and config["vision_feature_select_strategy"] == "default"
    tok = transformers.AutoTokenizer.from_pretrained(str(out))
    assert config["image_token_index"] == tok.convert_tokens_to_ids("<|reserved_special_token_4|>")
    model, info = transformers.LlavaNextForConditionalGeneration.from_pretrained(str(out), output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info
    # The names vLLM 0.6 and transformers 4.x read (transformers 5 maps them onto its own).
    names = json.loads((out / "model.safetensors.index.json").read_text())["weight_map"]
    assert "vision_tower.vision_model.encoder.layers.0.self_attn.q_proj.weight" in names
    assert {"image_newline", "language_model.lm_head.weight", "language_model.model.embed_tokens.weight",
            "multi_modal_projector.linear_1.weight", "multi_modal_projector.linear_2.bias"} <= set(names)
    processor = transformers.AutoProcessor.from_pretrained(str(out))
    assert type(processor).__name__ == "LlavaNextProcessor"


def test_text_answers_are_the_language_models(tiny):
    ckpt, _, out = tiny
    lm, _, _, _ = original(ckpt)
    model = transformers.LlavaNextForConditionalGeneration.from_pretrained(str(out)).eval()
    tok = transformers.AutoTokenizer.from_pretrained(str(out))
    ids = tok("What does the slide show? The tissue", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids).logits, lm(input_ids=ids).logits)
        ours = model.generate(input_ids=ids, max_new_tokens=12, do_sample=False)
        theirs = lm.generate(input_ids=ids, max_new_tokens=12, do_sample=False)
    assert torch.equal(ours, theirs)


def test_image_answers_use_the_trained_tower_projector_and_newline(tiny):
    from PIL import Image
    ckpt, tower_dir, out = tiny
    lm, tower, image_path, weights = original(ckpt)
    model = transformers.LlavaNextForConditionalGeneration.from_pretrained(str(out)).eval()
    processor = transformers.AutoProcessor.from_pretrained(str(out))
    image = Image.new("RGB", (50, 30))
    for x in range(50):
        for y in range(30):
            image.putpixel((x, y), ((x * 5) % 256, (y * 8) % 256, ((x + y) * 3) % 256))
    prompt = "<|start_header_id|>user<|end_header_id|>\n\n<|reserved_special_token_4|>\nWhat organ is this?<|eot_id|>"
    inputs = processor(images=image, text=prompt, return_tensors="pt")
    pixels, sizes = inputs["pixel_values"], inputs["image_sizes"]
    assert pixels.shape[1] > 1, "anyres: the base image and its grid tiles"
    with torch.no_grad():
        # Tile by tile, the converted tower+projector give what the checkpoint's do.
        theirs_tiles = image_path(pixels[0])
        ours_tiles = model.model.multi_modal_projector(
            model.model.vision_tower(pixels[0], output_hidden_states=True).hidden_states[-2][:, 1:])
        assert torch.allclose(ours_tiles, theirs_tiles, atol=1e-6)
        assert torch.equal(model.model.image_newline, weights["model.image_newline"])
        # The whole answer: the checkpoint's language model with its own image features packed in.
        packed, _ = model.model.pack_image_features([theirs_tiles], sizes, "default", weights["model.image_newline"])
        embeds = lm.get_input_embeddings()(inputs["input_ids"]).clone()
        slots = inputs["input_ids"][0] == model.config.image_token_index
        packed = torch.cat(list(packed)) if isinstance(packed, (list, tuple)) else packed
        assert int(slots.sum()) == packed.shape[0]
        embeds[0, slots] = packed
        theirs_logits = lm(inputs_embeds=embeds, attention_mask=inputs["attention_mask"]).logits
        ours_logits = model(**inputs).logits
        assert torch.allclose(ours_logits, theirs_logits, atol=1e-5)
        ours = model.generate(**inputs, max_new_tokens=10, do_sample=False)[0, inputs["input_ids"].shape[1]:]
        theirs = lm.generate(inputs_embeds=embeds, attention_mask=inputs["attention_mask"], max_new_tokens=10,
                             do_sample=False)[0]
    assert ours.tolist() == theirs.tolist()
    # The snapshot's (untrained) tower would have answered differently: the test can tell them apart.
    snapshot = transformers.CLIPVisionModel.from_pretrained(str(tower_dir))
    with torch.no_grad():
        assert not torch.allclose(snapshot(pixels[0]).last_hidden_state, tower(pixels[0]).last_hidden_state)


def test_missing_tower_weights_come_from_the_snapshot(tiny, tmp_path):
    ckpt, tower_dir, _ = tiny
    bare = tmp_path / "bare"
    shutil.copytree(ckpt, bare)
    weights = load_file(str(bare / "model.safetensors"))
    save_file({k: v for k, v in weights.items() if not k.startswith(llava_next.TOWER_PREFIX)}, str(bare / "model.safetensors"))
    # A checkpoint whose config says the tower was trained must carry it.
    with pytest.raises(llava_next.ConversionError, match="says the tower was trained"):
        llava_next.convert(str(bare), str(tower_dir), str(tmp_path / "refused"))
    config = json.loads((bare / "config.json").read_text())
    config["unfreeze_mm_vision_tower"] = False
    (bare / "config.json").write_text(json.dumps(config))
    record = llava_next.convert(str(bare), str(tower_dir), str(tmp_path / "out"))
    assert record["vision_tower_weights"] == "snapshot"
    model, info = transformers.LlavaNextForConditionalGeneration.from_pretrained(str(tmp_path / "out"), output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    snapshot = load_file(str(tower_dir / "model.safetensors"))
    key = "vision_model.encoder.layers.0.self_attn.q_proj.weight"
    loaded = model.model.vision_tower.state_dict()
    assert torch.equal(loaded.get(key, loaded.get(key.removeprefix("vision_model."))), snapshot[key])
    trained = load_file(str(ckpt / "model.safetensors"))[llava_next.TOWER_PREFIX + key]
    assert not torch.equal(trained, snapshot[key])


@pytest.mark.parametrize("field, value, named", [
    ("mm_projector_type", "linear", "mm_projector_type is 'linear'"),
    ("mm_patch_merge_type", "flat", "mm_patch_merge_type is 'flat'"),
    ("image_aspect_ratio", "pad", "image_aspect_ratio is 'pad'"),
    ("mm_use_im_start_end", True, "mm_use_im_start_end is true"),
    ("image_grid_pinpoints", [[28, 50]], "not a multiple of the tower's image_size 28"),
    ("model_type", "llava_next", "not 'llava_llama'"),
])
def test_settings_the_layout_cannot_hold_are_refused_naming_the_field(tiny, tmp_path, field, value, named):
    ckpt, tower_dir, _ = tiny
    bad = tmp_path / "bad"
    shutil.copytree(ckpt, bad)
    config = json.loads((bad / "config.json").read_text())
    config[field] = value
    (bad / "config.json").write_text(json.dumps(config))
    run = subprocess.run([sys.executable, "-m", "workbench_convert.llava_next", "--checkpoint", str(bad),
                          "--vision-tower", str(tower_dir), "--out", str(tmp_path / "out")],
                         cwd=PYTHON_DIR, capture_output=True, text=True)
    assert run.returncode == 2
    assert str(bad / "config.json") in run.stderr and named in run.stderr, run.stderr
    assert not (tmp_path / "out" / "config.json").exists()


def test_a_tokenizer_without_the_upstream_image_token_is_refused(tiny, tmp_path):
    ckpt, tower_dir, _ = tiny
    bad = tmp_path / "bad"
    shutil.copytree(ckpt, bad)
    tok = json.loads((bad / "tokenizer.json").read_text())
    for entry in tok["added_tokens"]:
        if entry["content"] == "<|reserved_special_token_4|>":
            entry["content"] = "<|reserved_special_token_44|>"
    vocab = tok["model"]["vocab"]
    vocab["<|reserved_special_token_44|>"] = vocab.pop("<|reserved_special_token_4|>")
    (bad / "tokenizer.json").write_text(json.dumps(tok))
    with pytest.raises(llava_next.ConversionError, match=r"has no <\|reserved_special_token_4\|>"):
        llava_next.convert(str(bad), str(tower_dir), str(tmp_path / "out"))


RECIPES = os.path.join(os.path.dirname(PYTHON_DIR), "experiments", "adamllm", "recipes")


def stub_workbench(tmp_path):
    """`$WORKBENCH fetch --from MANIFEST --quiet` as the recipes call it, answering with the folder
    the test's manifest names (the real command is tested against the hub look-alike elsewhere)."""
    stub = tmp_path / "workbench"
    stub.write_text('#!/bin/sh\n[ "$1 $2 $4" = "fetch --from --quiet" ] || exit 64\n'
                    'exec python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[\'dir\'])" "$3"\n')
    stub.chmod(0o755)
    return str(stub)


def test_the_recipe_converts_a_training_folder_and_keeps_a_released_manifest(tiny, tmp_path):
    ckpt, tower_dir, converted = tiny
    vision = tmp_path / "vision.json"
    vision.write_text(json.dumps({"repo": "openai/clip-vit-large-patch14-336", "dir": str(tower_dir)}))
    env = dict(os.environ, WORKBENCH=stub_workbench(tmp_path))
    out = tmp_path / "stage" / "model"
    run = subprocess.run(["bash", os.path.join(RECIPES, "convert-llava.sh"), sys.executable, str(ckpt), str(vision), str(out)],
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert json.loads((out / "config.json").read_text())["model_type"] == "llava_next"
    # An authors' released checkpoint (already LLaVA-NeXT) passes through: its manifest is kept.
    released = tmp_path / "released.json"
    released.write_text(json.dumps({"repo": "AdaptLLM/biomed-LLaVA-NeXT-Llama3-8B", "dir": str(converted)}))
    out2 = tmp_path / "stage2" / "model"
    run = subprocess.run(["bash", os.path.join(RECIPES, "convert-llava.sh"), sys.executable, str(released), str(vision), str(out2)],
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "already in the LLaVA-NeXT layout" in run.stdout
    assert sorted(os.listdir(out2)) == ["manifest.json"]


def test_evaluate_refuses_llavas_training_layout(tiny, tmp_path):
    ckpt, _, _ = tiny
    run = subprocess.run(["bash", os.path.join(RECIPES, "evaluate.sh"), sys.executable, str(tmp_path), str(ckpt), "med", "llava",
                          str(tmp_path / "bench.json"), str(tmp_path / "eval"), "SLAKE"],
                         env=dict(os.environ, WORKBENCH=stub_workbench(tmp_path)), capture_output=True, text=True)
    assert run.returncode == 2
    assert "model_type llava_llama" in run.stderr and "convert-llava" in run.stderr, run.stderr


def test_stage_two_starts_from_the_base_with_the_first_stages_projector(tiny, tmp_path):
    """train-llava.sh's second stage starts from this folder instead of --pretrain_mm_mlp_adapter
    (a plain load_state_dict, which fails under ZeRO-3)."""
    from workbench_convert import llava_stage2
    ckpt, tower_dir, _ = tiny
    base = load_file(str(ckpt / "model.safetensors"))
    g = torch.Generator().manual_seed(9)
    # As train.py saves it: the named parameters matching mm_projector, in bf16.
    trained = {k: (torch.randn(v.shape, generator=g)).to(torch.bfloat16)
               for k, v in base.items() if k.startswith("model.mm_projector.")}
    torch.save(trained, tmp_path / "mm_projector.bin")
    start = tmp_path / "start"
    record = llava_stage2.merge(str(ckpt), str(tmp_path / "mm_projector.bin"), str(start))
    assert record["replaced"] == sorted(trained)
    merged = load_file(str(start / "model.safetensors"))
    assert set(merged) == set(base)
    for key, tensor in merged.items():
        if key in trained:
            assert tensor.dtype == base[key].dtype and torch.equal(tensor, trained[key].to(tensor.dtype))
        else:
            assert torch.equal(tensor, base[key]), key
    assert os.path.islink(start / "config.json") and os.path.islink(start / "tokenizer.json")
    # And it is a complete LLaVA checkpoint: it converts, with the new projector in place.
    out = tmp_path / "converted"
    llava_next.convert(str(start), str(tower_dir), str(out))
    model = transformers.LlavaNextForConditionalGeneration.from_pretrained(str(out))
    assert torch.equal(model.model.multi_modal_projector.linear_1.weight,
                       trained["model.mm_projector.0.weight"].to(torch.float32))
    # A projector of another shape (another base) is refused before anything is trained on it.
    wrong = dict(trained)
    wrong["model.mm_projector.0.weight"] = torch.zeros(3, 3)
    torch.save(wrong, tmp_path / "wrong.bin")
    with pytest.raises(llava_next.ConversionError, match=r"model.mm_projector.0.weight has shape \(3, 3\)"):
        llava_stage2.merge(str(ckpt), str(tmp_path / "wrong.bin"), str(tmp_path / "start2"))


def test_views_into_a_larger_storage_are_written_as_their_own_tensors():
    base = torch.arange(12, dtype=torch.float32)
    tensors = {"a": base[:6].view(2, 3), "b": base[6:].view(2, 3), "c": base}
    out = llava_next.unshared(tensors)
    assert all(torch.equal(out[k], tensors[k]) for k in tensors)
    ptrs = {out[k].untyped_storage().data_ptr() for k in out}
    assert len(ptrs) == 3
