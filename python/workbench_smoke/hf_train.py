"""HF Trainer wrapper shared by every training stage: checkpoints, automatic resume from the
last checkpoint in the output directory, and step losses streamed as `<prefix>/loss` metrics."""
from __future__ import annotations

import json
import os
import time

import torch
from transformers import Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_utils import get_last_checkpoint

from . import common, metrics


class ListDataset(torch.utils.data.Dataset):
    def __init__(self, items: list[dict]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return self.items[i]


class _LossToMetrics(TrainerCallback):
    def __init__(self, series: str, step_offset: int):
        self.series, self.offset = series, step_offset
        self.losses: list[tuple[int, float]] = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            step = state.global_step + self.offset
            self.losses.append((step, float(logs["loss"])))
            metrics.emit(self.series, logs["loss"], step=step)


def train(model, items: list[dict], collate, out_dir: str, steps: int, *, lr: float, batch_size: int,
          seed: int, series: str = "train/loss", save_steps: int | None = None, resume: bool = True,
          logging_steps: int = 10, warmup_steps: int = 10, step_offset: int = 0, device=None) -> dict:
    """Train `model` for `steps` optimizer steps on `device` (default: common.device());
    returns {"losses", "resumed_from", "seconds", "device"}. Trainer moves the model and every
    batch to its device; use_cpu=True (as before) unless the device is CUDA."""
    if not items:
        raise common.StageError("no training examples")
    dev = device if device is not None else common.device()
    os.makedirs(out_dir, exist_ok=True)
    last = get_last_checkpoint(out_dir) if resume else None
    if last is not None:
        common.check_checkpoint(last)
        print(f"resuming from {last}")
        # Checkpoints hold weights under the original (pre-5.x) key names, which Trainer's own
        # resume does not map back for Qwen2-VL: it silently keeps the fresh weights. Load them
        # through from_pretrained (which converts the keys); Trainer then restores optimizer,
        # scheduler and RNG state.
        try:
            done = json.load(open(os.path.join(last, "trainer_state.json")))["global_step"]
            model.load_state_dict(type(model).from_pretrained(last).state_dict())
        except (OSError, ValueError, KeyError, RuntimeError) as err:
            raise common.StageError(f"corrupted checkpoint: {last}: {str(err).splitlines()[0]}",
                                    common.EXIT_CORRUPT)
        if done >= steps:  # already finished; Trainer would run one more step on resume
            return {"losses": [], "resumed_from": last, "seconds": 0.0, "device": str(dev)}
    args = TrainingArguments(
        output_dir=out_dir, max_steps=steps, per_device_train_batch_size=batch_size,
        learning_rate=lr, lr_scheduler_type="cosine", warmup_steps=warmup_steps, weight_decay=0.0,
        logging_steps=logging_steps, save_strategy="steps", save_steps=save_steps or max(steps // 2, 1),
        save_total_limit=2, seed=seed, data_seed=seed, report_to=[], use_cpu=dev.type == "cpu",
        dataloader_num_workers=0, remove_unused_columns=False, disable_tqdm=True,
        full_determinism=False, log_level="error")
    if dev.type != "cpu":
        # Trainer picks its own device; make sure it is the requested one, and a single GPU
        # (with several visible it would wrap the model in DataParallel and split the batches).
        if args.device.type != dev.type:
            raise common.StageError(f"Trainer chose {args.device}, expected {dev}")
        if args.n_gpu > 1:
            raise common.StageError(f"{args.n_gpu} GPUs visible; set CUDA_VISIBLE_DEVICES to one GPU")
    callback = _LossToMetrics(series, step_offset)
    trainer = Trainer(model=model, args=args, train_dataset=ListDataset(items), data_collator=collate,
                      callbacks=[callback])
    t0 = time.time()
    try:
        trainer.train(resume_from_checkpoint=last)
    except (OSError, ValueError, RuntimeError) as err:
        if last is None:
            raise
        raise common.StageError(f"corrupted checkpoint: {last}: {str(err).splitlines()[0]}",
                                common.EXIT_CORRUPT)
    placed = next(model.parameters()).device  # where Trainer actually trained it
    if placed.type != dev.type:
        raise common.StageError(f"the model was trained on {placed}, expected {dev}")
    return {"losses": callback.losses, "resumed_from": last, "seconds": time.time() - t0, "device": str(placed)}
