"""Tiny Qwen2-VL: tokenizer trained on the fly, image-only processor shim, model presets,
conversation encoding, batching and generation. Shared by the synthesizer and the student."""
from __future__ import annotations

import importlib
import os
import sys

import torch
import transformers
from PIL import Image
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (AutoModelForImageTextToText, AutoProcessor, Qwen2VLConfig,
                          Qwen2VLForConditionalGeneration, Qwen2VLProcessor, TokenizersBackend)
from transformers.models.qwen2_vl import Qwen2VLImageProcessorPil
from transformers.processing_utils import ProcessorMixin

from . import common, world

PAD, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
V_START, V_END, IMAGE_PAD, VIDEO_PAD = "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"
SPECIAL = [PAD, IM_START, IM_END, V_START, V_END, IMAGE_PAD, VIDEO_PAD]

# Two size presets stand in for the paper's two base models (Qwen2-VL-2B, LLaVA/Llama-3.2).
PRESETS = {
    "a": dict(hidden=64, layers=2, heads=4, kv_heads=2, inter=128, mrope=[2, 3, 3], v_embed=32, v_heads=2),
    "b": dict(hidden=96, layers=2, heads=4, kv_heads=2, inter=192, mrope=[4, 4, 4], v_embed=48, v_heads=2),
}
# Measured: with the default init std (0.02) the tiny random vision tower's features are so weak
# that the text model ignores the image for hundreds of steps (held-out colour accuracy stayed at
# chance after 200 steps); std 0.2 for the vision tower learns colour to 1.0 in 200 steps.
VISION_INIT_STD = 0.2


class ImageOnlyQwen2VLProcessor(Qwen2VLProcessor):
    """Qwen2VLProcessor without the video processor.

    transformers 5.17's Qwen2VLProcessor requires a video processor, which imports torchvision,
    and there is no usable CPU torchvision wheel. Sub-processors are read from __init__'s
    signature, so leaving `video_processor` out makes save/reload image-only.
    """

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        self.image_token, self.video_token = IMAGE_PAD, VIDEO_PAD
        self.image_token_id = tokenizer.convert_tokens_to_ids(IMAGE_PAD)
        self.video_token_id = tokenizer.convert_tokens_to_ids(VIDEO_PAD)
        ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template, **kwargs)


# AutoProcessor resolves `processor_class` by attribute lookup on the transformers package
# module; AutoProcessor.register is silently ignored for native configs in 5.17 and an
# unresolvable class makes it return just the tokenizer, so register it there explicitly.
setattr(importlib.import_module("transformers"), "ImageOnlyQwen2VLProcessor", ImageOnlyQwen2VLProcessor)


def train_tokenizer(texts: list[str], vocab_size: int = 480) -> TokenizersBackend:
    """Byte-level BPE trained on the domain corpus plus the given texts (deterministic)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(world.corpus() + list(texts), trainer)
    return TokenizersBackend(tokenizer_object=tok, eos_token=IM_END, pad_token=PAD,
                             extra_special_tokens=SPECIAL[3:])


# auto (default): the stock Qwen2VLProcessor where torchvision imports, else the shim above;
# stock: require the stock one; shim: always the shim.
PROCESSOR_ENV = "WORKBENCH_SMOKE_PROCESSOR"
PROCESSOR_CLASSES = ("ImageOnlyQwen2VLProcessor", "Qwen2VLProcessor")


def _torchvision_imports() -> bool:
    try:
        import torchvision  # noqa: F401
        from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor  # noqa: F401
    except Exception:  # absent, or present but built for another torch (RuntimeError, OSError)
        return False
    return True


def processor_kind() -> str:
    """'stock' or 'shim', from $WORKBENCH_SMOKE_PROCESSOR (auto|stock|shim, default auto)."""
    want = (os.environ.get(PROCESSOR_ENV) or "auto").strip().lower()
    if want not in ("auto", "stock", "shim"):
        raise common.StageError(f"{PROCESSOR_ENV}={want!r}: expected auto, stock or shim", common.EXIT_USAGE)
    if want == "shim":
        return "shim"
    if _torchvision_imports():
        return "stock"
    if want == "stock":
        raise common.StageError(f"{PROCESSOR_ENV}=stock but torchvision does not import")
    return "shim"


def build_processor(texts: list[str]):
    """The shim (no torchvision: this CPU machine) or, where torchvision imports, the stock
    Qwen2VLProcessor with its torchvision image and video processors. Both tokenize alike."""
    px = world.IMAGE_SIZE * world.IMAGE_SIZE
    tokenizer = train_tokenizer(texts)
    if processor_kind() == "stock":
        try:
            from transformers.models.qwen2_vl import Qwen2VLImageProcessor
            from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

            return Qwen2VLProcessor(image_processor=Qwen2VLImageProcessor(min_pixels=px, max_pixels=px),
                                    tokenizer=tokenizer, video_processor=Qwen2VLVideoProcessor())
        except (ImportError, TypeError, ValueError) as err:
            if os.environ.get(PROCESSOR_ENV, "").strip().lower() == "stock":
                raise common.StageError(f"stock Qwen2VLProcessor failed: {type(err).__name__}: {err}")
            print(f"stock Qwen2VLProcessor failed ({type(err).__name__}: {str(err).splitlines()[0]}); "
                  "using the image-only processor", file=sys.stderr)
    image_processor = Qwen2VLImageProcessorPil(min_pixels=px, max_pixels=px)
    return ImageOnlyQwen2VLProcessor(image_processor=image_processor, tokenizer=tokenizer)


def build_model(processor, size: str, seed: int) -> Qwen2VLForConditionalGeneration:
    """A fresh random-init Qwen2-VL (real vision tower, merger, M-RoPE) of a preset size."""
    p = PRESETS[size]
    tok = processor.tokenizer
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL}
    cfg = Qwen2VLConfig(
        text_config=dict(vocab_size=len(tok), hidden_size=p["hidden"], intermediate_size=p["inter"],
                         num_hidden_layers=p["layers"], num_attention_heads=p["heads"],
                         num_key_value_heads=p["kv_heads"], max_position_embeddings=1024,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                          "mrope_section": p["mrope"]},
                         bos_token_id=None, eos_token_id=ids[IM_END], pad_token_id=ids[PAD]),
        vision_config=dict(depth=1, embed_dim=p["v_embed"], hidden_size=p["hidden"], num_heads=p["v_heads"],
                           mlp_ratio=2, patch_size=14, spatial_merge_size=2, temporal_patch_size=2, initializer_range=VISION_INIT_STD),
        image_token_id=ids[IMAGE_PAD], video_token_id=ids[VIDEO_PAD],
        vision_start_token_id=ids[V_START], vision_end_token_id=ids[V_END], tie_word_embeddings=False)
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(cfg)
    model.generation_config.pad_token_id = ids[PAD]
    model.generation_config.eos_token_id = ids[IM_END]
    return model


def save(model, processor, out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)


def load(model_dir: str):
    """Reload model + processor from disk; exit 5 with the file name if the checkpoint is bad."""
    common.check_checkpoint(model_dir)
    try:
        processor = AutoProcessor.from_pretrained(model_dir)
        model = AutoModelForImageTextToText.from_pretrained(model_dir)
    except (OSError, ValueError, RuntimeError) as err:
        raise common.StageError(f"corrupted checkpoint: {model_dir}: {str(err).splitlines()[0]}",
                                common.EXIT_CORRUPT)
    if type(processor).__name__ not in PROCESSOR_CLASSES:
        raise common.StageError(f"{model_dir}: processor reloaded as {type(processor).__name__}, "
                                f"expected one of {', '.join(PROCESSOR_CLASSES)}", common.EXIT_CORRUPT)
    model.eval()
    return model, processor


# ---------------------------------------------------------------- encoding

def load_image(path: str) -> Image.Image:
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except OSError as err:
        raise common.StageError(f"cannot read image {path}: {err}")


def encode(processor, image: Image.Image, turns: list[tuple[str, str]], label_from: int | None = None,
           open_user: bool = False, end: bool = False) -> dict:
    """Tokenize a chat in the Qwen2-VL layout, image in the first user turn.

    turns: (role, text) pairs. Labels cover assistant texts + <|im_end|>; with label_from=k,
    every token from the k-th turn on is labelled instead (the synthesizer learns to write the
    questions too). open_user appends an empty user header (synthesis prompt); a trailing
    assistant turn with text None is a generation prompt; end=True appends a labelled
    <|endoftext|> (the synthesizer's stop token).
    """
    tok = processor.tokenizer
    sid = tok.convert_tokens_to_ids
    pixels = processor.image_processor(images=[image], return_tensors="pt")
    n_pad = int(pixels["image_grid_thw"].prod()) // processor.image_processor.merge_size ** 2
    ids: list[int] = []
    lab: list[bool] = []

    def add(tokens, labelled):
        ids.extend(tokens)
        lab.extend([labelled] * len(tokens))

    for i, (role, text) in enumerate(turns):
        forced = label_from is not None and i >= label_from
        add([sid(IM_START)] + tok.encode(role + "\n", add_special_tokens=False), forced)
        if i == 0:
            add([sid(V_START)] + [sid(IMAGE_PAD)] * n_pad + [sid(V_END)], forced)
        if text is None:
            break
        learn = forced or (role == "assistant" and label_from is None)
        add(tok.encode(text, add_special_tokens=False) + [sid(IM_END)], learn)
        add(tok.encode("\n", add_special_tokens=False), forced)
    if open_user:
        add([sid(IM_START)] + tok.encode("user\n", add_special_tokens=False), False)
    if end:
        add([sid(PAD)], True)
    input_ids = torch.tensor(ids)
    labels = torch.where(torch.tensor(lab), input_ids, torch.full_like(input_ids, -100))
    return {"input_ids": input_ids, "labels": labels, "pixel_values": pixels["pixel_values"],
            "image_grid_thw": pixels["image_grid_thw"]}


def collate(batch: list[dict], pad_id: int, image_token_id: int, left_pad: bool = False) -> dict:
    """Pad a list of encoded examples; mm_token_type_ids marks image tokens (required in 5.x)."""
    width = max(len(b["input_ids"]) for b in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, b in enumerate(batch):
        n = len(b["input_ids"])
        sl = slice(width - n, width) if left_pad else slice(0, n)
        ids[row, sl], labels[row, sl], mask[row, sl] = b["input_ids"], b["labels"], 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels,
            "pixel_values": torch.cat([b["pixel_values"] for b in batch]),
            "image_grid_thw": torch.cat([b["image_grid_thw"] for b in batch]),
            "mm_token_type_ids": (ids == image_token_id).long()}


@torch.no_grad()
def generate(model, processor, encoded: list[dict], max_new_tokens: int, batch_size: int = 16,
             sample: bool = False, temperature: float = 1.0, seed: int = 0, eos: str = IM_END,
             keep_special: bool = False) -> list[str]:
    """Batched generation (the vLLM stand-in); sampling is seeded per batch for reproducibility."""
    tok = processor.tokenizer
    pad_id, eos_id = tok.convert_tokens_to_ids(PAD), tok.convert_tokens_to_ids(eos)
    outputs = []
    for start in range(0, len(encoded), batch_size):
        batch = collate(encoded[start:start + batch_size], pad_id, processor.image_token_id, left_pad=True)
        batch.pop("labels")
        batch = {k: v.to(model.device) for k, v in batch.items()}  # same tensors on CPU
        torch.manual_seed(seed + start)
        out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=sample,
                             temperature=temperature if sample else None, top_p=None, top_k=None,
                             pad_token_id=pad_id, eos_token_id=eos_id)
        for row in out[:, batch["input_ids"].shape[1]:]:
            text = tok.decode(row.tolist(), skip_special_tokens=not keep_special)
            outputs.append(text.replace(PAD, "") if keep_special else text)
    return outputs


transformers.logging.set_verbosity_error()
