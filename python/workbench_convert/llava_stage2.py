"""The starting point of LLaVA's second training stage as a model folder: the base checkpoint with
the first stage's projector written into its weights.

Why: upstream stage 2 would start from the base and load the stage-1 projector with
`--pretrain_mm_mlp_adapter` (llava/model/llava_arch.py, initialize_vision_modules), a plain
`load_state_dict` on a projector that DeepSpeed ZeRO-3 has already partitioned to empty shards
inside `from_pretrained`: "size mismatch ... torch.Size([0])" (haotian-liu/LLaVA #1619, #665,
#1878), after stage 1 has spent its GPU hours. A folder whose weights already hold that projector
is loaded by `from_pretrained` itself, which gathers ZeRO-3's partitions; it starts stage 2 from
the same values, with no `--pretrain_mm_mlp_adapter`.

Every base file is linked, except the weight files holding `model.mm_projector.*`, which are
rewritten with the first stage's tensors (cast to the base's dtype; the shapes must match).
merge.json records the sources and the tensors replaced.

    python -m workbench_convert.llava_stage2 --base DIR --projector mm_projector.bin --out DIR
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from workbench_convert.llava_next import ConversionError, load, read_json, unshared, weight_files

PREFIX = "model.mm_projector."


def projector_tensors(path: str) -> dict:
    """mm_projector.bin's tensors under the names the base checkpoint uses (train.py saves the
    named parameters matching 'mm_projector'; llava_arch.py takes what follows 'mm_projector.')."""
    import torch
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ConversionError(f"{path}: not found (the first training stage writes it)")
    out = {}
    for key, tensor in saved.items():
        if "mm_projector." not in key:
            raise ConversionError(f"{path}: tensor {key} is not a projector weight")
        out[PREFIX + key.split("mm_projector.", 1)[1]] = tensor
    if not out:
        raise ConversionError(f"{path}: no projector tensors")
    return out


def merge(base: str, projector: str, out: str) -> dict:
    from safetensors.torch import save_file
    read_json(os.path.join(base, "config.json"))
    new = projector_tensors(projector)
    files = weight_files(base)
    os.makedirs(out, exist_ok=True)
    replaced, seen = [], set()
    for path in files:
        tensors = load(path)
        hits = [k for k in tensors if k.startswith(PREFIX)]
        if not hits:
            continue
        for key in hits:
            if key not in new:
                raise ConversionError(f"{path}: the base has {key}, which {projector} does not hold")
            if tuple(new[key].shape) != tuple(tensors[key].shape):
                raise ConversionError(f"{projector}: {key} has shape {tuple(new[key].shape)}, the base's "
                                      f"{tuple(tensors[key].shape)}")
            tensors[key] = new[key].to(tensors[key].dtype)
            replaced.append(key)
            seen.add(key)
        target = os.path.join(out, os.path.basename(path))
        if path.endswith(".safetensors"):
            save_file(unshared(tensors), target, metadata={"format": "pt"})
        else:
            import torch
            torch.save(tensors, target)
    missing = sorted(set(new) - seen)
    if missing:
        raise ConversionError(f"{base}: no {', '.join(missing)} in its weights; is this LLaVA's base checkpoint?")
    for name in sorted(os.listdir(base)):
        target = os.path.join(out, name)
        if not os.path.exists(target) and os.path.isfile(os.path.join(base, name)):
            os.symlink(os.path.realpath(os.path.join(base, name)), target)
    record = {"base": os.path.abspath(base), "projector": os.path.abspath(projector), "replaced": sorted(replaced)}
    with open(os.path.join(out, "merge.json"), "w") as f:
        json.dump(record, f, indent=2, sort_keys=True)
        f.write("\n")
    return record


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="the base model folder (LLaVA layout)")
    ap.add_argument("--projector", required=True, help="the first stage's mm_projector.bin")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    try:
        record = merge(args.base, args.projector, args.out)
    except ConversionError as e:
        print(f"llava_stage2: {e}", file=sys.stderr)
        return 2
    print(f"llava_stage2: {args.out}: {args.base} with {len(record['replaced'])} projector tensors from {args.projector}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
