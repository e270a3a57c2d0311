"""Tiny Qwen2-VL and Llama-3.2-Vision (Mllama) checkpoints in the layout of the real hub
repositories (config.json, generation_config.json, model.safetensors, tokenizer.json,
tokenizer_config.json with the chat template, special_tokens_map.json, preprocessor_config.json,
chat_template.json; Qwen2-VL also vocab.json and merges.txt), built from the real architectures'
configurations with every size shrunk. LLaVA-v1.6-8B's is in the layout LLaVA's trainer saves
(QA-Synthesizer's train_mem.py: model_type llava_llama, the tower and projector inside `model.`),
with a CLIP tower snapshot in openai/clip-vit-large-patch14-336's layout beside it. The tokenizer is a byte-level BPE trained here on a small
corpus, with the real models' special tokens, so the chat templates and LLaMA-Factory's templates
find every token they name. Deterministic: the same arguments give the same files.

    python -m workbench_rehearsal.tiny_models --family qwen2-vl|mllama|llava --out DIR [--tower DIR]
"""
from __future__ import annotations

import argparse
import json
import os

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from workbench_smoke import world

QWEN_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
                "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
                "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]
LLAMA_SPECIAL = ["<|begin_of_text|>", "<|end_of_text|>", "<|finetune_right_pad_id|>", "<|step_id|>",
                 "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>",
                 "<|image|>"]

# Chat templates in the real repositories' style (a system turn by default for Qwen2-VL, the
# image token where a message holds an image), written here.
QWEN_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}"
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
LLAMA_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|image|>{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|eot_id|>"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)


def train_tokenizer(special: list[str], vocab_size: int, lines: list[str]) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(lines, trainer)
    return tok


def write_json(path: str, value) -> None:
    with open(path, "w") as f:
        json.dump(value, f, indent=2, sort_keys=True)
        f.write("\n")


def qwen2_vl(out: str, lines: list[str]) -> None:
    from transformers import (Qwen2TokenizerFast, Qwen2VLConfig, Qwen2VLForConditionalGeneration,
                              Qwen2VLImageProcessor)
    tok = train_tokenizer(QWEN_SPECIAL, 512, lines)
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tokenizer = Qwen2TokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   unk_token=None, bos_token=None, errors="replace", clean_up_tokenization_spaces=False,
                                   model_max_length=32768, split_special_tokens=False)
    tokenizer.chat_template = QWEN_TEMPLATE
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN_SPECIAL}
    # Qwen2-VL-2B-Instruct's config (hidden 1536, 28 layers, 12 heads / 2 KV heads, M-RoPE
    # [16, 24, 24], a 32-layer 1280-wide vision tower, patch 14, merge 2), every size shrunk.
    config = Qwen2VLConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32768, rms_norm_eps=1e-6,
        rope_theta=1000000.0, rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]}, tie_word_embeddings=True,
        bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        vision_token_id=ids["<|vision_pad|>"], image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_config={"depth": 2, "embed_dim": 32, "hidden_size": 64, "mlp_ratio": 2, "num_heads": 2,
                       "in_chans": 3, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2},
        torch_dtype="float32")
    torch.manual_seed(0)
    model = Qwen2VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = [ids["<|im_end|>"], ids["<|endoftext|>"]]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.generation_config.do_sample = False
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    # The real repository's image processor settings, with the pixel budget cut so that a 56x56
    # image is 4x4 patches (4 tokens after the 2x2 merge).
    image_processor = Qwen2VLImageProcessor(min_pixels=56 * 56, max_pixels=56 * 56, patch_size=14,
                                            merge_size=2, temporal_patch_size=2)
    image_processor.save_pretrained(out)
    write_json(os.path.join(out, "chat_template.json"), {"chat_template": QWEN_TEMPLATE})


def mllama(out: str, lines: list[str]) -> None:
    from transformers import (MllamaConfig, MllamaForConditionalGeneration, MllamaImageProcessor,
                              PreTrainedTokenizerFast)
    tok = train_tokenizer(LLAMA_SPECIAL, 512, lines)
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A $B",
                                                       special_tokens=[("<|begin_of_text|>", bos)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>",
                                        pad_token="<|finetune_right_pad_id|>", clean_up_tokenization_spaces=True,
                                        model_input_names=["input_ids", "attention_mask"], model_max_length=131072)
    tokenizer.chat_template = LLAMA_TEMPLATE
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in LLAMA_SPECIAL}
    # Llama-3.2-11B-Vision-Instruct's config (a 40-layer 4096-wide text model with cross-attention
    # layers every fifth, a 32+8-layer 1280-wide tiled vision encoder at 560 px, 4 tiles), shrunk:
    # 4 text layers with cross-attention at 1 and 3, a 2+1-layer 32-wide encoder on 28 px tiles.
    config = MllamaConfig(
        text_config={"vocab_size": len(tokenizer), "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 4,
                     "num_attention_heads": 4, "num_key_value_heads": 2, "cross_attention_layers": [1, 3],
                     "rope_theta": 500000.0, "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                              "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
                     "max_position_embeddings": 131072, "bos_token_id": bos, "eos_token_id": ids["<|eot_id|>"],
                     "pad_token_id": ids["<|finetune_right_pad_id|>"], "tie_word_embeddings": False},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_global_layers": 1,
                       "attention_heads": 2, "image_size": 28, "patch_size": 14, "max_num_tiles": 4,
                       "intermediate_layers_indices": [0, 1], "vision_output_dim": 96,
                       "supported_aspect_ratios": [[1, 1], [1, 2], [1, 3], [1, 4], [2, 1], [2, 2], [3, 1], [4, 1]]},
        image_token_index=ids["<|image|>"], torch_dtype="float32")
    torch.manual_seed(0)
    model = MllamaForConditionalGeneration(config)
    model.generation_config.eos_token_id = [ids["<|eot_id|>"], ids["<|eom_id|>"], ids["<|end_of_text|>"]]
    model.generation_config.pad_token_id = ids["<|finetune_right_pad_id|>"]
    model.generation_config.do_sample = False
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    image_processor = MllamaImageProcessor(size={"height": 28, "width": 28}, max_image_tiles=4)
    image_processor.save_pretrained(out)
    write_json(os.path.join(out, "chat_template.json"), {"chat_template": LLAMA_TEMPLATE})


LLAMA3_SPECIAL = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
                  "<|reserved_special_token_2|>", "<|reserved_special_token_3|>", "<|start_header_id|>",
                  "<|end_header_id|>", "<|reserved_special_token_4|>", "<|eot_id|>"]


def clip_tower(out: str) -> dict:
    """A CLIP snapshot in openai/clip-vit-large-patch14-336's layout (a full CLIPModel, config
    model_type clip, CLIPImageProcessor at the tower's resolution), shrunk to 28 px and 2 layers."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel
    config = CLIPConfig(
        text_config={"vocab_size": 99, "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "max_position_embeddings": 16},
        vision_config={"image_size": 28, "patch_size": 14, "hidden_size": 32, "intermediate_size": 64,
                       "num_hidden_layers": 3, "num_attention_heads": 2},
        projection_dim=16, torch_dtype="float32")
    torch.manual_seed(1)
    CLIPModel(config).save_pretrained(out, safe_serialization=True)
    CLIPImageProcessor(size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28}).save_pretrained(out)
    return config.vision_config.to_dict()


def llava(out: str, lines: list[str], tower: str) -> None:
    """LLaVA-v1.6-8B (open-llava-next-llama3-8b: Llama-3-8B with a CLIP-L/336 tower, mlp2x_gelu,
    anyres, spatial_unpad) in the layout LLaVA's trainer saves, shrunk; the tower's weights in it
    differ from the snapshot's, as after training with the tower unfrozen."""
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModel, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
    vision = clip_tower(tower)
    tok = train_tokenizer(LLAMA3_SPECIAL, 512, lines)
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A $B",
                                                       special_tokens=[("<|begin_of_text|>", bos)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>",
                                        pad_token="<|end_of_text|>", model_max_length=6144, padding_side="right")
    text = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192, rope_theta=500000.0,
                       bos_token_id=bos, eos_token_id=tok.token_to_id("<|eot_id|>"), tie_word_embeddings=False,
                       torch_dtype="float32")
    torch.manual_seed(2)
    weights = dict(LlamaForCausalLM(text).state_dict())
    torch.manual_seed(3)
    for key, tensor in CLIPVisionModel(CLIPVisionConfig(**vision)).state_dict().items():
        # LLaVA's transformers (4.37) names the tower's weights vision_model.*; transformers 5 drops that level.
        key = key if key.startswith("vision_model.") else "vision_model." + key
        weights["model.vision_tower.vision_tower." + key] = tensor
    g = torch.Generator().manual_seed(4)
    hidden, mm_hidden = text.hidden_size, vision["hidden_size"]
    for name, shape in {"model.mm_projector.0.weight": (hidden, mm_hidden), "model.mm_projector.0.bias": (hidden,),
                        "model.mm_projector.2.weight": (hidden, hidden), "model.mm_projector.2.bias": (hidden,),
                        "model.image_newline": (hidden,)}.items():
        weights[name] = torch.randn(*shape, generator=g) * 0.1
    save_file({k: v.contiguous() for k, v in weights.items()}, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    config = text.to_dict()
    config.update({
        "architectures": ["LlavaLlamaForCausalLM"], "model_type": "llava_llama", "mm_vision_tower": tower,
        "mm_hidden_size": mm_hidden, "mm_projector_type": "mlp2x_gelu", "mm_vision_select_layer": -2,
        "mm_vision_select_feature": "patch", "mm_patch_merge_type": "spatial_unpad", "image_aspect_ratio": "anyres",
        "image_grid_pinpoints": [[28, 56], [56, 28], [56, 56], [28, 84], [84, 28]], "mm_use_im_start_end": False,
        "mm_use_im_patch_token": False, "mm_projector_lr": None, "mm_vision_tower_lr": 2e-6,
        "unfreeze_mm_vision_tower": True, "tune_mm_mlp_adapter": False, "freeze_mm_mlp_adapter": False,
        "tokenizer_model_max_length": 6144, "tokenizer_padding_side": "right", "use_mm_proj": True})
    write_json(os.path.join(out, "config.json"), config)
    tokenizer.save_pretrained(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--family", choices=["qwen2-vl", "mllama", "llava"], required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tower", help="llava: where to write the CLIP tower snapshot")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.family == "llava":
        if not a.tower:
            ap.error("--family llava needs --tower DIR")
        os.makedirs(a.tower, exist_ok=True)
        llava(a.out, world.corpus(), a.tower)
    else:
        {"qwen2-vl": qwen2_vl, "mllama": mllama}[a.family](a.out, world.corpus())
    print(f"tiny {a.family}: {a.out}")


if __name__ == "__main__":
    main()
