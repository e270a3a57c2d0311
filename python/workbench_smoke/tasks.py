"""The task-row schema shared by synthesize, filter and rules (one JSON object per line):

  {"syn_id": 0, "image": "images/pair_0000.png", "images": ["images/pair_0000.png"],
   "messages": [caption user turn, caption assistant turn],
   "instruction": Q, "precise": precise answer, "informative": informative answer,
   "collected_QA": {"Q", "precise_A", "informative_A"},   # upstream's field
   "pred": "Yes" | "No" | "Open" | null,                  # consistency verdict (upstream field)
   "source": "synth" | "rules"}

Image paths are relative to the pairs directory (where image_caption_pairs.json lives).
"""
from __future__ import annotations

import os

from . import common, world


def make_row(syn_id: int, pair: dict, q: str, precise: str, informative: str, source: str,
             pred: str | None = None) -> dict:
    return {"syn_id": syn_id, "image": pair["images"][0], "images": list(pair["images"]),
            "messages": pair["messages"], "instruction": q, "precise": precise,
            "informative": informative,
            "collected_QA": {"Q": q, "precise_A": precise, "informative_A": informative},
            "pred": pred, "source": source}


def load_pairs(pairs_dir: str) -> list[dict]:
    path = os.path.join(pairs_dir, "image_caption_pairs.json")
    pairs = common.read_json(path)
    if not isinstance(pairs, list):
        raise common.StageError(f"{path}: expected a JSON list of ShareGPT entries")
    for i, p in enumerate(pairs):
        if not (isinstance(p, dict) and p.get("images") and len(p.get("messages", [])) >= 2):
            raise common.StageError(f"{path}: entry {i} lacks images/messages")
    return pairs


def caption_of(pair: dict) -> str:
    return pair["messages"][1]["content"]


# ---------------------------------------------------------------- synthesizer output

USER_HEAD = "<|im_start|>user\n"
ASSISTANT_SPLIT = "<|im_end|>\n<|im_start|>assistant\n"
TURN_END = "<|im_end|>"


def parse_qa(generated: str) -> list[tuple[str, str]]:
    """Split a synthesizer continuation (decoded with special tokens) into (Q, A) turns.

    The prompt ends with an open user header, so the text starts inside a user turn. Like
    upstream's parse_pred: an unfinished last turn is dropped, malformed turns are skipped.
    """
    text = USER_HEAD + generated.replace("<|endoftext|>", "")
    chunks = text.split(USER_HEAD)[1:]
    pairs = []
    for chunk in chunks:
        chunk = chunk.rstrip("\n")
        if not chunk.endswith(TURN_END):
            continue
        parts = chunk.split(ASSISTANT_SPLIT)
        if len(parts) != 2:
            continue
        q, a = parts[0].strip(), parts[1][: -len(TURN_END)].strip()
        if q and a and TURN_END not in a and TURN_END not in q:
            pairs.append((q, a))
    return pairs


def collect_triplets(qa: list[tuple[str, str]], precise_hint: str, informative_hint: str) -> list[dict]:
    """Match precise and informative answers to the same question (upstream's collected_QA)."""
    precise, informative, out = {}, {}, []
    for q, a in qa:
        for hint, mine, other, key in ((precise_hint, precise, informative, "p"),
                                       (informative_hint, informative, precise, "i")):
            if q.startswith(hint + "\n"):
                question = q[len(hint) + 1:].strip()
                if not question:
                    break
                if question in other and question not in {t["Q"] for t in out}:
                    p_a, i_a = (a, other[question]) if key == "p" else (other[question], a)
                    out.append({"Q": question, "precise_A": p_a, "informative_A": i_a})
                else:
                    mine[question] = a
                break
    return out


def templated_tasks(pairs: list[dict], per_image: int, rng):
    """Yield (pair, task) for `per_image` task kinds per parseable caption, drawn from `rng`.

    Shared by the rules baseline and the synthesizer's seed data. It is a generator, so a caller
    that draws from the same `rng` between tasks (the synthesizer shuffles answers) keeps the
    exact draw order it had when the loop was written out in each stage."""
    for pair in pairs:
        scene = world.parse_caption(caption_of(pair))
        if scene is None:
            continue
        for kind in rng.sample(world.TASK_KINDS, per_image):
            yield pair, world.task(scene, kind, rng)
