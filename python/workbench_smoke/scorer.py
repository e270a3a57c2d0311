"""Stage-side scorer mimicking the upstream AdaMLLM evaluation (QA-Synthesizer vllm_inference/).

Written from the behaviour described in ../shared/data/adamllm/README.md, quirks kept:
  * OPEN  (SLAKE-style): token recall after the VQA normalization, applied twice.
  * CLOSED: 100 when the normalized prediction contains "yes" or "no" and contains the
    normalized label as a substring ("no" matches inside "not").
  * multiple choice (PMC-VQA-style rows with options A..D): the MMMU-style option parser with
    the seeded random fallback random.Random(syn_id).choice(...).
Per-example scores are percentages like upstream; aggregates here are fractions in [0, 1].
Empty or punctuation-only predictions score 0 (recall) or fall back to the random choice
(multiple choice); nothing raises. No torch needed.
"""
from __future__ import annotations

import random
import re
from collections import Counter

# The standard VQA answer-normalization tables (public VQA evaluation toolkit).
PUNCTUATION = [";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@",
               "`", ",", "?", "!"]
NUMBER_WORDS = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4",
                "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
ARTICLES = {"a", "an", "the"}
# A subset of the toolkit's contraction table: the forms a small model can emit here.
CONTRACTIONS = {"arent": "aren't", "cant": "can't", "couldnt": "couldn't", "didnt": "didn't",
                "doesnt": "doesn't", "dont": "don't", "hasnt": "hasn't", "havent": "haven't",
                "isnt": "isn't", "its": "it's", "wasnt": "wasn't", "werent": "weren't",
                "wont": "won't", "wouldnt": "wouldn't", "Im": "I'm", "Ive": "I've"}
_PERIOD = re.compile(r"\.(?!\d)")
_DIGIT_COMMA_DIGIT = re.compile(r"\d,\d")
# The upstream code passes a flag constant (re.UNICODE == 32) where re.sub's count goes.
_PERIOD_LIMIT = 32
MC_STRIP = [",", ".", "!", "?", ";", ":", "'"]


def normalize(text: str) -> str:
    source = text
    out = text
    has_digit_comma = _DIGIT_COMMA_DIGIT.search(source) is not None
    for p in PUNCTUATION:
        if (p + " " in source or " " + p in source) or has_digit_comma:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    out = _PERIOD.sub("", out, count=_PERIOD_LIMIT)
    words = []
    for w in out.lower().split():
        w = NUMBER_WORDS.get(w, w)
        if w in ARTICLES:
            continue
        words.append(CONTRACTIONS.get(w, w))
    return " ".join(words).replace(",", "")


def open_recall(pred: str, label: str) -> float:
    p = normalize(normalize(pred.lower())).split()
    g = normalize(normalize(label.lower())).split()
    if not p or not g:
        return 0.0
    pc, gc = Counter(p), Counter(g)
    tp = sum(n for w, n in pc.items() if w in gc)
    fn = sum(n for w, n in gc.items() if w not in pc)
    return 0.0 if tp == 0 else 100.0 * tp / (tp + fn)


def closed_accuracy(pred: str, label: str) -> float:
    p = normalize(pred.lower())
    g = normalize(label.lower())
    return 100.0 if ("yes" in p or "no" in p) and g in p else 0.0


def parse_choice(response: str, choices: list[str], answers: dict[str, str], syn_id: int) -> tuple[str, bool]:
    """Return (chosen option, random_selected)."""
    for ch in MC_STRIP:
        response = response.strip(ch)
    response = " " + response + " "
    by_index, bracketed = True, True
    cands = [c for c in choices if f"({c})" in response]
    if not cands:
        bracketed = False
        cands = [c for c in choices if f" {c} " in response]
    if not cands and len(response) > 5:
        by_index = False
        cands = [c for c in choices if answers[c].lower() in response.lower()]
    if not cands:
        return random.Random(syn_id).choice(choices), True
    if len(cands) == 1:
        return cands[0], False
    if by_index:
        pos = [response.rfind(f"({c})" if bracketed else f" {c} ") for c in cands]
    else:
        pos = [response.lower().rfind(answers[c].lower()) for c in cands]
    best = 0
    for i in range(1, len(cands)):  # ties go to the earlier candidate
        if pos[i] > pos[best]:
            best = i
    return cands[best], False


def is_choice(row: dict) -> bool:
    return all(k in row for k in "ABCD")


def score_row(row: dict) -> dict:
    """Per-example score fields, named as upstream writes them."""
    pred = row.get("pred") or ""
    if is_choice(row):
        choices = [c for c in "ABCD"]
        option, rnd = parse_choice(pred, choices, {c: str(row[c]) for c in choices}, int(row["syn_id"]))
        return {"acc": 100.0 if str(option) == str(row["label"]) else 0.0, "pred_option": option,
                "random_selected": rnd}
    if row.get("answer_type") == "CLOSED":
        return {"score": {"yes/no accuracy": closed_accuracy(pred, str(row["label"]))}}
    return {"score": {"recall": open_recall(pred, str(row["label"]))}}


def aggregate(rows: list[dict]) -> dict:
    """Fractions in [0, 1]; a split without rows scores 0 (upstream would crash or divide by 0)."""
    open_s, closed_s, mc_s = [], [], []
    for r in rows:
        s = score_row(r)
        if "acc" in s:
            mc_s.append(s["acc"])
        elif "yes/no accuracy" in s["score"]:
            closed_s.append(s["score"]["yes/no accuracy"])
        else:
            open_s.append(s["score"]["recall"])

    def mean(xs):
        return sum(xs) / len(xs) / 100.0 if xs else 0.0

    out = {"open_recall": mean(open_s), "closed_acc": mean(closed_s), "mc_acc": mean(mc_s)}
    out["mean"] = sum(out.values()) / 3.0
    out["n_open"], out["n_closed"], out["n_mc"] = len(open_s), len(closed_s), len(mc_s)
    return out
