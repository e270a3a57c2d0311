"""The synthetic domain: Pillow-drawn scenes, their captions, and task templates.

Stands in for the paper's biomedical/food image-caption corpora. A scene is `count` copies of
one shape in one colour; captions describe it in words, and every task is derivable from the
caption alone (that is what the synthesizer and the manual rules baseline rely on).
No torch here: data stages import only Pillow.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

IMAGE_SIZE = 56  # 56x56 px = 4x4 patches of 14 px = 4 image tokens after the 2x2 merge
COLOURS = {"red": (220, 40, 40), "green": (30, 160, 60), "blue": (40, 80, 225), "yellow": (235, 200, 20)}
SHAPES = ("circle", "square", "triangle")
PLURAL = {"circle": "circles", "square": "squares", "triangle": "triangles"}
COUNT_WORDS = {1: "one", 2: "two"}
POSITIONS = ("left", "right")

CAPTION_INSTRUCTIONS = (
    "Describe the image.",
    "What does this picture show?",
    "Write a short caption for this image.",
)
CAPTION_TEMPLATES = (
    "The image shows {what}.",
    "A picture of {what}.",
    "In this image there {be} {what}.",
)

# The upstream synthesizer hints (QA-Synthesizer process/syn_utils.py).
CAPTION_HINT = "Describe the image."
PRECISE_HINT = "Answer with a precise response."
INFORMATIVE_HINT = "Answer with an informative response."


@dataclass(frozen=True)
class Scene:
    colour: str
    shape: str
    count: int
    position: str  # where a single shape sits; "" when count == 2

    def what(self) -> str:
        if self.count == 1:
            return f"one {self.colour} {self.shape} on the {self.position}"
        return f"two {self.colour} {PLURAL[self.shape]}"


def random_scene(rng: random.Random) -> Scene:
    count = rng.choice((1, 2))
    return Scene(rng.choice(sorted(COLOURS)), rng.choice(SHAPES), count,
                 rng.choice(POSITIONS) if count == 1 else "")


def draw(scene: Scene, rng: random.Random):
    """Render a scene as a 56x56 RGB image with a little position and size jitter."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), (250, 250, 250))
    d = ImageDraw.Draw(img)
    if scene.count == 1:
        centres = [(14 if scene.position == "left" else 42, 28)]
    else:
        centres = [(14, 28), (42, 28)]
    fill = COLOURS[scene.colour]
    for cx, cy in centres:
        r = rng.randint(8, 11)
        cx += rng.randint(-2, 2)
        cy += rng.randint(-8, 8)
        box = (cx - r, cy - r, cx + r, cy + r)
        if scene.shape == "circle":
            d.ellipse(box, fill=fill)
        elif scene.shape == "square":
            d.rectangle(box, fill=fill)
        else:
            d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    return img


def caption(scene: Scene, rng: random.Random) -> str:
    be = "is" if scene.count == 1 else "are"
    return rng.choice(CAPTION_TEMPLATES).format(what=scene.what(), be=be)


_CAPTION_RE = re.compile(
    r"\b(one|two) (" + "|".join(COLOURS) + r") (circle|square|triangle)s?(?: on the (left|right))?")


def parse_caption(text: str) -> Scene | None:
    """Recover the scene from a caption (what the rules baseline and the tuners use)."""
    m = _CAPTION_RE.search(text.lower())
    if not m:
        return None
    count = 1 if m.group(1) == "one" else 2
    return Scene(m.group(2), m.group(3), count, m.group(4) or "")


# ---------------------------------------------------------------- tasks

def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def task(scene: Scene, kind: str, rng: random.Random) -> dict:
    """One task of a kind: question, precise answer, informative answer, answer type.

    Kinds mirror the benchmark: open colour/shape/count, closed yes/no, multiple choice.
    """
    noun = "shapes" if scene.count == 2 else "shape"
    be = "are" if scene.count == 2 else "is"
    if kind == "colour":
        q, a = f"What colour {be} the {noun} in the image?", scene.colour
        info = f"The {noun} in the image {be} {a}, so the colour is {a}."
        return {"kind": kind, "Q": q, "precise_A": a, "informative_A": info, "answer_type": "OPEN"}
    if kind == "shape":
        q, a = "What shape is shown in the image?", scene.shape
        info = f"The image shows {scene.what()}, so the shape is {_article(a)} {a}."
        return {"kind": kind, "Q": q, "precise_A": a, "informative_A": info, "answer_type": "OPEN"}
    if kind == "count":
        q, a = "How many shapes are in the image?", COUNT_WORDS[scene.count]
        info = f"I can see {scene.what()}, so the number of shapes is {a}."
        return {"kind": kind, "Q": q, "precise_A": a, "informative_A": info, "answer_type": "OPEN"}
    if kind == "yesno_colour":
        asked = scene.colour if rng.random() < 0.5 else rng.choice([c for c in sorted(COLOURS) if c != scene.colour])
        a = "yes" if asked == scene.colour else "no"
        q = f"{be.capitalize()} the {noun} {asked}?"
        info = f"The {noun} in the image {be} {scene.colour}, so the answer is {a}."
        return {"kind": kind, "Q": q, "precise_A": a, "informative_A": info, "answer_type": "CLOSED"}
    if kind == "yesno_shape":
        asked = scene.shape if rng.random() < 0.5 else rng.choice([s for s in SHAPES if s != scene.shape])
        a = "yes" if asked == scene.shape else "no"
        q = f"Is there {_article(asked)} {asked} in the image?"
        info = f"The image shows {scene.what()}, so the answer is {a}."
        return {"kind": kind, "Q": q, "precise_A": a, "informative_A": info, "answer_type": "CLOSED"}
    if kind in ("mc_colour", "mc_shape"):
        pool = sorted(COLOURS) if kind == "mc_colour" else list(SHAPES) + ["star"]
        truth = scene.colour if kind == "mc_colour" else scene.shape
        opts = list(pool)
        rng.shuffle(opts)
        letters = "ABCD"
        label = letters[opts.index(truth)]
        what = "colour" if kind == "mc_colour" else "shape"
        q = f"Which {what} is shown in the image?\n" + "\n".join(f"{l}. {o}" for l, o in zip(letters, opts))
        # The answer names the option text: the upstream multiple-choice parser matches it.
        return {"kind": kind, "Q": q, "precise_A": f"The answer is {truth}.",
                "informative_A": f"The image shows {scene.what()}, so the answer is {truth}.",
                "answer_type": "CHOICE", "options": dict(zip(letters, opts)), "label": label}
    raise ValueError(f"unknown task kind {kind}")


TASK_KINDS = ("colour", "shape", "count", "yesno_colour", "yesno_shape", "mc_colour", "mc_shape")


def corpus() -> list[str]:
    """Every word of the domain, so a tokenizer trained on it covers any stage's text."""
    rng = random.Random(0)
    texts = list(CAPTION_INSTRUCTIONS) + [CAPTION_HINT, PRECISE_HINT, INFORMATIVE_HINT]
    for colour in sorted(COLOURS):
        for shape in SHAPES:
            for count, pos in ((1, "left"), (1, "right"), (2, "")):
                s = Scene(colour, shape, count, pos)
                texts.append(caption(s, rng))
                for kind in TASK_KINDS:
                    t = task(s, kind, rng)
                    texts += [t["Q"], t["precise_A"], t["informative_A"]]
    return texts
