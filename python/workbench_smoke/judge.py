"""The consistency judge's prompt and verdict parsing (torch-free, shared by train_judge/filter).

Upstream prompts Llama-3-8B with a few-shot template ending in
  "## Question: {Q}\\n## Informative Answer: {informative_A}\\n## Precise Answer: {precise_A}\\n## Consistent:"
and keeps an entry when the 2-token answer, lowercased, is "yes". The tiny judge is tuned on
that final block alone (the few-shot preamble would not fit its job).
"""
from __future__ import annotations

VERDICTS = ("Yes", "No", "Open")


def prompt(q: str, informative: str, precise: str) -> str:
    return (f"## Question: {q}\n## Informative Answer: {informative}\n"
            f"## Precise Answer: {precise}\n## Consistent:")


def parse_verdict(text: str) -> str:
    words = text.strip().split()
    return words[0].strip(".,:;!") if words else ""
