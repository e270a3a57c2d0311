"""Convert a checkpoint saved by LLaVA's trainer (QA-Synthesizer's `llava/train/train_mem.py`:
config `model_type` `llava_llama`, the vision tower, projector and image-newline vector inside the
language model's `model.` namespace) into the layout transformers' and vLLM's LLaVA-NeXT classes
load (`model_type` `llava_next`, `LlavaNextForConditionalGeneration`), which the upstream vLLM
inference needs and the authors' released 8B checkpoints use.

What maps to what (read in the pinned LLaVA code; the names on the right are the LLaVA-NeXT
checkpoint names vLLM 0.6 and transformers 4.x read, which transformers 5 still loads):

  model.vision_tower.vision_tower.X   -> vision_tower.X            (CLIP, trained when unfrozen)
  model.mm_projector.0 / .2           -> multi_modal_projector.linear_1 / linear_2   (mlp2x_gelu)
  model.image_newline                 -> image_newline             (spatial_unpad)
  lm_head                             -> language_model.lm_head
  model.*                             -> language_model.model.*

The configuration: the language model's own fields as `text_config`; the tower snapshot's vision
fields as `vision_config`; `mm_vision_select_layer` -> `vision_feature_layer`;
`mm_vision_select_feature` patch | cls_patch -> `vision_feature_select_strategy` default | full;
`image_grid_pinpoints` kept; `image_token_index` = the tokenizer's id of the token the upstream
inference prompts LLaVA with (`<|reserved_special_token_4|>`, vllm_inference/utils/task.py), so the
embedding table keeps its size. Only the settings the paper trains with are accepted
(mlp2x_gelu, anyres, spatial_unpad, no image start/end tokens); anything else is refused naming
the field, rather than converted into a model that answers differently.

A checkpoint whose tower weights are missing (LLaVA saves them only when the tower is part of the
model) takes them from the tower snapshot; conversion.json says which. Weights are streamed one
shard at a time and keep their dtype.

    python -m workbench_convert.llava_next --checkpoint DIR --vision-tower DIR --out DIR
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import sys

IMAGE_TOKEN = "<|reserved_special_token_4|>"
TOWER_PREFIX = "model.vision_tower.vision_tower."
# Fields LLaVA's trainer adds to the language model's configuration; none belongs in text_config.
LLAVA_FIELDS = {
    "image_aspect_ratio", "image_grid_pinpoints", "image_crop_resolution", "image_split_resolution",
    "tokenizer_model_max_length", "tokenizer_padding_side", "tune_mm_mlp_adapter", "freeze_mm_mlp_adapter",
    "unfreeze_mm_vision_tower", "use_mm_proj", "architectures", "_name_or_path", "model_type",
}
TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
                   "added_tokens.json", "generation_config.json"]


class ConversionError(Exception):
    pass


def read_json(path: str) -> dict:
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise ConversionError(f"{path}: not found")
    except json.JSONDecodeError as e:
        raise ConversionError(f"{path}: not JSON ({e})")


def require(config: dict, path: str, field: str, allowed, why: str):
    value = config.get(field)
    ok = value in allowed if isinstance(allowed, (list, tuple, set)) else value == allowed
    if not ok:
        raise ConversionError(f"{path}: {field} is {value!r}; the LLaVA-NeXT layout holds only {allowed!r} ({why})")
    return value


def check_llava_config(config: dict, path: str) -> None:
    if config.get("model_type") != "llava_llama":
        raise ConversionError(f"{path}: model_type is {config.get('model_type')!r}, not 'llava_llama' "
                              "(LLaVA's training layout); nothing to convert")
    require(config, path, "mm_projector_type", "mlp2x_gelu", "a two-layer GELU projector")
    require(config, path, "image_aspect_ratio", "anyres", "images split into a grid of tower-sized tiles")
    require(config, path, "mm_patch_merge_type", "spatial_unpad", "tiles merged with padding removed and a newline vector per row")
    require(config, path, "mm_vision_select_feature", ["patch", "cls_patch"], "tower features with or without the CLS token")
    for flag in ("mm_use_im_start_end", "mm_use_im_patch_token"):
        if config.get(flag):
            raise ConversionError(f"{path}: {flag} is true; the LLaVA-NeXT layout has no image start/end or patch tokens")
    if not config.get("image_grid_pinpoints"):
        raise ConversionError(f"{path}: image_grid_pinpoints is missing; anyres needs the grid resolutions")


def pinpoints(value, path: str) -> list:
    if isinstance(value, list) and all(isinstance(p, list) and len(p) == 2 for p in value):
        return value
    raise ConversionError(f"{path}: image_grid_pinpoints is {value!r}; expected a list of [height, width] pairs")


def token_id(checkpoint: str, token: str) -> int:
    path = os.path.join(checkpoint, "tokenizer.json")
    if os.path.exists(path):
        from tokenizers import Tokenizer
        found = Tokenizer.from_file(path).token_to_id(token)
    else:
        from transformers import AutoTokenizer
        tok = AutoTokenizer.from_pretrained(checkpoint)
        found = tok.convert_tokens_to_ids(token)
        found = None if found == tok.unk_token_id else found
    if found is None:
        raise ConversionError(f"{checkpoint}: the tokenizer has no {token} (the token the upstream inference "
                              "prompts LLaVA with); is this a Llama-3 LLaVA checkpoint?")
    return found


def vision_config(tower: str) -> dict:
    path = os.path.join(tower, "config.json")
    config = read_json(path)
    if config.get("model_type") == "clip":
        config = dict(config.get("vision_config") or {})
    elif config.get("model_type") != "clip_vision_model":
        raise ConversionError(f"{path}: model_type is {config.get('model_type')!r}; expected a CLIP tower (clip or clip_vision_model)")
    for field in ("image_size", "patch_size", "hidden_size"):
        if field not in config:
            raise ConversionError(f"{path}: the vision configuration has no {field}")
    config["model_type"] = "clip_vision_model"
    return config


def weight_files(folder: str) -> list[str]:
    files = sorted(glob.glob(os.path.join(folder, "*.safetensors")))
    if not files:
        files = sorted(glob.glob(os.path.join(folder, "pytorch_model*.bin")))
    if not files:
        raise ConversionError(f"{folder}: no *.safetensors or pytorch_model*.bin weights")
    return files


def load(path: str) -> dict:
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file
        return load_file(path)
    import torch
    return torch.load(path, map_location="cpu", weights_only=True)


def rename(key: str) -> str | None:
    """The LLaVA-NeXT name of one LLaVA checkpoint tensor, or None for a buffer that is not a weight."""
    if key.endswith("rotary_emb.inv_freq"):
        return None
    if key.startswith(TOWER_PREFIX):
        return "vision_tower." + key[len(TOWER_PREFIX):]
    if key.startswith("model.mm_projector."):
        layer, _, rest = key[len("model.mm_projector."):].partition(".")
        names = {"0": "linear_1", "2": "linear_2"}
        if layer not in names:
            raise ConversionError(f"tensor {key}: projector layer {layer} is not one of mlp2x_gelu's (0, 2)")
        return f"multi_modal_projector.{names[layer]}.{rest}"
    if key == "model.image_newline":
        return "image_newline"
    if key.startswith("lm_head."):
        return "language_model." + key
    if key.startswith("model."):
        return "language_model." + key
    raise ConversionError(f"tensor {key}: not a LLaVA-Llama weight (expected model.* or lm_head.*)")


def unshared(tensors: dict) -> dict:
    """safetensors refuses tensors that share memory (tied weights, views into a larger storage,
    as torch.load can return): any tensor that does not own its whole storage, or whose storage
    another tensor already uses, gets its own copy."""
    seen, out = set(), {}
    for name, t in tensors.items():
        t = t.contiguous()
        storage = t.untyped_storage()
        whole = t.storage_offset() == 0 and t.numel() * t.element_size() == storage.nbytes()
        if t.numel() and (not whole or storage.data_ptr() in seen):
            t = t.clone()
        if t.numel():
            seen.add(t.untyped_storage().data_ptr())
        out[name] = t
    return out


def convert(checkpoint: str, tower: str, out: str) -> dict:
    from safetensors.torch import save_file
    config_path = os.path.join(checkpoint, "config.json")
    config = read_json(config_path)
    check_llava_config(config, config_path)
    vision = vision_config(tower)
    grid = pinpoints(config["image_grid_pinpoints"], config_path)
    for h, w in grid:
        if h % vision["image_size"] or w % vision["image_size"]:
            raise ConversionError(f"{config_path}: image_grid_pinpoints [{h}, {w}] is not a multiple of the tower's "
                                  f"image_size {vision['image_size']}")
    image_token_index = token_id(checkpoint, IMAGE_TOKEN)
    text = {k: v for k, v in config.items() if k not in LLAVA_FIELDS and not k.startswith("mm_")}
    text["model_type"] = "llama"
    text["architectures"] = ["LlamaForCausalLM"]
    select = config.get("mm_vision_select_feature", "patch")
    converted = {
        "architectures": ["LlavaNextForConditionalGeneration"],
        "model_type": "llava_next",
        "text_config": text,
        "vision_config": vision,
        "image_token_index": image_token_index,
        "image_grid_pinpoints": grid,
        "projector_hidden_act": "gelu",
        "vision_feature_layer": config.get("mm_vision_select_layer", -2),
        "vision_feature_select_strategy": "default" if select == "patch" else "full",
        "tie_word_embeddings": bool(config.get("tie_word_embeddings", False)),
        "use_image_newline_parameter": True,
    }
    if "torch_dtype" in config:
        converted["torch_dtype"] = config["torch_dtype"]

    os.makedirs(out, exist_ok=True)
    weight_map, counts, total = {}, {}, 0

    def write(index: int, renamed: dict) -> None:
        # One output file per input shard, written before the next is read, so memory holds one shard.
        nonlocal total
        file = f"model-{index:05d}.safetensors"
        save_file(unshared(renamed), os.path.join(out, file), metadata={"format": "pt"})
        for name, tensor in renamed.items():
            weight_map[name] = file
            counts[name.split(".")[0]] = counts.get(name.split(".")[0], 0) + 1
            total += tensor.numel() * tensor.element_size()

    sources = weight_files(checkpoint)
    for index, source in enumerate(sources, 1):
        renamed = {}
        for key, tensor in load(source).items():
            name = rename(key)
            if name is None:
                continue
            if name in weight_map or name in renamed:
                raise ConversionError(f"{source}: tensor {key} maps to {name}, which another tensor already took")
            renamed[name] = tensor
        write(index, renamed)
    tower_source = "checkpoint"
    if not counts.get("vision_tower"):
        if config.get("unfreeze_mm_vision_tower"):
            raise ConversionError(f"{checkpoint}: no vision tower weights, but {config_path} says the tower was trained "
                                  "(unfreeze_mm_vision_tower): the snapshot's untrained tower would answer differently")
        tower_source = "snapshot"
        renamed = {}
        for source in weight_files(tower):
            for key, tensor in load(source).items():
                if key.startswith("vision_model."):
                    renamed["vision_tower." + key] = tensor
        if not renamed:
            raise ConversionError(f"{tower}: no vision_model.* weights for the tower, and the checkpoint has none either")
        write(len(sources) + 1, renamed)
    for name in ("multi_modal_projector", "image_newline", "language_model", "vision_tower"):
        if not counts.get(name):
            raise ConversionError(f"{checkpoint}: no {name} weights found; not a complete LLaVA-NeXT checkpoint")
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
        f.write("\n")
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(converted, f, indent=2, sort_keys=True)
        f.write("\n")

    for name in TOKENIZER_FILES:
        if os.path.exists(os.path.join(checkpoint, name)):
            shutil.copyfile(os.path.join(checkpoint, name), os.path.join(out, name))
    processor = read_json(os.path.join(tower, "preprocessor_config.json"))
    processor.pop("processor_class", None)
    processor.update({"image_processor_type": "LlavaNextImageProcessor", "image_grid_pinpoints": grid, "do_pad": True})
    with open(os.path.join(out, "preprocessor_config.json"), "w") as f:
        json.dump(processor, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(out, "processor_config.json"), "w") as f:
        json.dump({"processor_class": "LlavaNextProcessor", "patch_size": vision["patch_size"],
                   "vision_feature_select_strategy": converted["vision_feature_select_strategy"],
                   # CLIP's CLS position: the processor counts it, then drops it for "default"
                   "num_additional_image_tokens": 1, "image_token": IMAGE_TOKEN}, f, indent=2, sort_keys=True)
        f.write("\n")
    record = {
        "converted": True, "from_layout": "llava_llama", "to_layout": "llava_next",
        "checkpoint": os.path.abspath(checkpoint), "vision_tower": os.path.abspath(tower),
        "vision_tower_weights": tower_source, "image_token": IMAGE_TOKEN, "image_token_index": image_token_index,
        "tensors": dict(sorted(counts.items())), "bytes": total,
    }
    with open(os.path.join(out, "conversion.json"), "w") as f:
        json.dump(record, f, indent=2, sort_keys=True)
        f.write("\n")
    return record


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True, help="LLaVA's saved folder (config.json model_type llava_llama)")
    ap.add_argument("--vision-tower", required=True, help="the CLIP tower snapshot the model was trained with")
    ap.add_argument("--out", required=True, help="the LLaVA-NeXT folder to write")
    args = ap.parse_args(argv)
    try:
        record = convert(args.checkpoint, args.vision_tower, args.out)
    except ConversionError as e:
        print(f"llava_next: {e}", file=sys.stderr)
        return 2
    print(f"llava_next: {args.checkpoint} -> {args.out}: image token {record['image_token']} "
          f"(id {record['image_token_index']}), tower weights from the {record['vision_tower_weights']}, "
          + ", ".join(f"{n} {c}" for n, c in record["tensors"].items()) + " tensors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
