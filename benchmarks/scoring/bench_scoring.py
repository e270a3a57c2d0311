#!/usr/bin/env python3
"""Scoring throughput: the Swift scorers against the Python references, on the same inputs.

What it measures (single-threaded on both sides; this script sets no thread settings and the
Python references run in one thread):

* ROUGE-L F (x100) over recipe-instruction pairs. Reference: the PyPI package ``rouge==1.0.1``,
  called as upstream does, ``Rouge().get_scores(pred, label)[0]["rouge-l"]["f"]`` with any
  exception scored 0.0. Two variants are timed: ``Rouge()`` (rouge-1, rouge-2 and rouge-l, exactly
  what upstream runs) and ``Rouge(metrics=["rouge-l"])``. The second computes only what the Swift
  scorer computes, so the Swift speed-up is quoted against it: that is the fair baseline.
* The multiple-choice parser of Food101 (MMMU style), written here from its description, with the
  accuracy (100 or 0) of each row, in two variants: straightforward (one function building its
  patterns and lowercased texts on every call, as the description reads; the issue's baseline)
  and with the patterns built once (a tuned Python, shown so the ratio is not flattered).

Fairness: both sides score the very same files generated here from a fixed seed, each timer covers
only the scoring loop (not generation, file reading or JSON decoding), one scorer object is built
outside the loop, and the speed comparison is reported only when both sides agree on the results
(sum of ROUGE-L F x100 within 1e-6 relative, sum of accuracies exactly); otherwise it prints a
MISMATCH line and exits 1.

usage: python3 benchmarks/scoring/bench_scoring.py [--bench-bin .build/release/workbench-bench]
           [--workdir DIR] [--recipes 10000] [--food101 100000] [--json OUT]
Without --bench-bin only the Python side runs. Needs ``pip install rouge==1.0.1`` (and six).
Exit status: 0 ok, 1 mismatch or Swift failure, 69 rouge not installed.
"""
import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FOOD101_LABELS = REPO / "data" / "adamllm" / "food101_name_to_label.json"
CHOICES = [str(i) for i in range(101)]

VOCAB = """preheat oven to 350 400 425 degrees bake for 15 20 30 45 minutes until golden brown
stir whisk fold chop dice mince slice peel grate melt butter sugar flour salt pepper eggs milk
cream cheese garlic onion olive oil water stock broth simmer boil fry saute roast grill season
taste add combine mix bowl pan skillet pot baking sheet dish tray lightly gently slowly well
thoroughly together into with over on in a the and of then cover remove from heat let cool rest
serve warm hot cold chilled fresh chopped minced sliced diced ground cinnamon vanilla lemon juice
zest honey tomato tomatoes basil parsley thyme rosemary chicken beef pork rice pasta beans carrots
potatoes celery mushrooms spinach dough batter sauce mixture until smooth thick tender crisp soft
1 2 3 cup cups tablespoon teaspoon pinch large medium small inch pieces half remaining evenly
spread pour drain rinse knead roll transfer top sprinkle garnish""".split()


# ----------------------------------------------------------------------------- input generation
def sentence(rng):
    words = [rng.choice(VOCAB) for _ in range(rng.randint(4, 20))]
    return " ".join([words[0].capitalize()] + words[1:])


def mutate(rng, s):
    words = s.split()
    return " ".join(w if rng.random() > 0.3 else rng.choice(VOCAB) for w in words)


def recipe_pair(rng):
    """A label of 3-12 sentences and a pred that reuses (mostly altered) label sentences; about
    5% of preds are empty or only "." (upstream scores those 0.0 through the exception)."""
    label = [sentence(rng) for _ in range(rng.randint(3, 12))]
    if rng.random() < 0.05:
        return ". ".join(label) + ".", rng.choice(["", "."])
    pred = [mutate(rng, s) if rng.random() < 0.7 else sentence(rng) for s in label]
    pred = [s for s in pred if rng.random() > 0.15] + [sentence(rng) for _ in range(3)]
    pred = pred[:rng.randint(max(3, len(label) - 2), 12)]
    return ". ".join(label) + ".", ". ".join(pred) + rng.choice([".", ""])


FILLER = "I am not sure what this dish is but it looks tasty and well plated".split()


def food_response(rng, names, index):
    guess = index if rng.random() < 0.6 else rng.randrange(101)
    other = rng.randrange(101)
    name, other_name = names[guess], names[other]
    forms = [
        f"({guess})", f"{guess}", f"The answer is ({guess}).", f"Answer: {guess}",
        f"I think it is {name}", name, name.upper() + "!", f"It could be ({other}) or ({guess}).",
        f"Either {other_name} or {name}.", f"{other} or {guess}?", f"'{name}'",
        " ".join(rng.choice(FILLER) for _ in range(rng.randint(3, 12))),
        "", ".", "(101)", "Crème brûlée, probably", f"Option {guess}, i.e. {name}",
    ]
    return rng.choice(forms)


def generate(workdir, n_recipes, n_food, names):
    rng = random.Random(1234)
    with open(workdir / "recipes.jsonl", "w", encoding="utf-8") as f:
        for i in range(n_recipes):
            label, pred = recipe_pair(rng)
            f.write(json.dumps({"syn_id": i, "label": label, "pred": pred}) + "\n")
    with open(workdir / "food101.jsonl", "w", encoding="utf-8") as f:
        for i in range(n_food):
            index = rng.randrange(101)
            pred = food_response(rng, names, index)
            f.write(json.dumps({"syn_id": i, "label": names[index], "pred": pred}) + "\n")


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# ----------------------------------------------------------------------------- references
def time_rouge(rouge, rows):
    """Sum of ROUGE-L F x100 over rows, and the seconds the scoring loop took."""
    total = 0.0
    start = time.perf_counter()
    for row in rows:
        try:
            f = rouge.get_scores(row["pred"], row["label"])[0]["rouge-l"]["f"]
        except Exception:
            f = 0.0
        total += f * 100
    return total, time.perf_counter() - start


def last_best(candidates, patterns, text):
    """The candidate whose pattern occurs last (rfind); ties go to the earlier candidate."""
    best, best_pos = candidates[0], text.rfind(patterns[candidates[0]])
    for c in candidates[1:]:
        pos = text.rfind(patterns[c])
        if pos > best_pos:
            best, best_pos = c, pos
    return best


def make_parser(choices, answers):
    """The parser for fixed choices and answers ({int label: class name with spaces}); the
    patterns are built once, as the Swift parser does. parse returns a choice or an int label."""
    bracketed = {x: f"({x})" for x in choices}
    spaced = {x: f" {x} " for x in choices}
    names = {k: v.lower() for k, v in answers.items()}

    def parse(response, syn_id):
        for c in ",.!?;:'":
            response = response.strip(c)
        padded = " " + response + " "
        found = [x for x in choices if bracketed[x] in padded]
        if found:
            return last_best(found, bracketed, padded)
        found = [x for x in choices if spaced[x] in padded]
        if found:
            return last_best(found, spaced, padded)
        if len(padded) > 5:
            lowered = padded.lower()
            found = [k for k in names if names[k] in lowered]
            if found:
                return last_best(found, names, lowered)
        return random.Random(syn_id).choice(choices)

    return parse


def parse_straightforward(response, all_choices, index2ans, seed):
    """The parser as one function, written the plain way (patterns and lowercased texts built on
    every call, as the description reads): the "straightforward Python implementation"."""
    for c in [",", ".", "!", "?", ";", ":", "'"]:
        response = response.strip(c)
    response = " " + response + " "
    candidates, bracketed, by_text = [], False, False
    for choice in all_choices:
        if f"({choice})" in response:
            candidates.append(choice)
            bracketed = True
    if not candidates:
        for choice in all_choices:
            if f" {choice} " in response:
                candidates.append(choice)
    if not candidates and len(response) > 5:
        for index, ans in index2ans.items():
            if ans.lower() in response.lower():
                candidates.append(index)
                by_text = True
    if not candidates:
        return random.Random(seed).choice(all_choices)
    if len(candidates) == 1:
        return candidates[0]
    if by_text:
        positions = [response.lower().rfind(index2ans[c].lower()) for c in candidates]
    elif bracketed:
        positions = [response.rfind(f"({c})") for c in candidates]
    else:
        positions = [response.rfind(f" {c} ") for c in candidates]
    return candidates[positions.index(max(positions))]


def time_mc_straightforward(rows, label_index, answers):
    total = 0
    start = time.perf_counter()
    for row in rows:
        option = parse_straightforward(row["pred"], CHOICES, answers, row["syn_id"])
        total += 100 if str(option) == str(label_index[row["label"]]) else 0
    return total, time.perf_counter() - start


def time_mc(rows, label_index, answers):
    """Sum of accuracies (100 or 0) over rows, and the seconds the scoring loop took."""
    parse = make_parser(CHOICES, answers)
    total = 0
    start = time.perf_counter()
    for row in rows:
        option = parse(row["pred"], row["syn_id"])
        total += 100 if str(option) == str(label_index[row["label"]]) else 0
    return total, time.perf_counter() - start


# ----------------------------------------------------------------------------- swift side
def run_swift(bench_bin, workdir):
    """Runs `BIN scoring ...` and returns the JSON object on the last line of its stdout."""
    cmd = [bench_bin, "scoring", "--recipes", str(workdir / "recipes.jsonl"),
           "--food101", str(workdir / "food101.jsonl")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} exited {proc.returncode}\n{proc.stderr}")
    lines = [l for l in proc.stdout.splitlines() if l.strip()]
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        sys.exit(f"error: no JSON line from {bench_bin}; stdout was:\n{proc.stdout}")


SWIFT_KEYS = ("rouge_seconds", "rouge_pairs", "rouge_sum", "mc_seconds", "mc_rows", "mc_acc_sum")


def check(swift, py):
    """Exits 1 with MISMATCH lines unless Swift computed the same results as Python."""
    missing = [k for k in SWIFT_KEYS if k not in swift]
    if missing:
        print(f"MISMATCH swift output lacks {', '.join(missing)}: {swift}")
        sys.exit(1)
    problems = []
    if swift["rouge_pairs"] != py["rouge_pairs"] or swift["mc_rows"] != py["mc_rows"]:
        problems.append(f"counts swift {swift['rouge_pairs']}/{swift['mc_rows']} "
                        f"python {py['rouge_pairs']}/{py['mc_rows']}")
    if not math.isclose(swift["rouge_sum"], py["rouge_sum"], rel_tol=1e-6, abs_tol=1e-9):
        problems.append(f"rouge_sum swift {swift['rouge_sum']!r} python {py['rouge_sum']!r}")
    if swift["mc_acc_sum"] != py["mc_acc_sum"]:
        problems.append(f"mc_acc_sum swift {swift['mc_acc_sum']!r} python {py['mc_acc_sum']!r}")
    for p in problems:
        print(f"MISMATCH {p}")
    if problems:
        sys.exit(1)


# ----------------------------------------------------------------------------- report
def rate(n, seconds):
    return n / seconds if seconds > 0 else float("inf")


def report(py, swift):
    """Prints the table; returns the throughputs (items/s) and Swift's speed-ups."""
    n_r, n_mc = py["rouge_pairs"], py["mc_rows"]
    r = {"python_rouge_default": rate(n_r, py["rouge_default_seconds"]),
         "python_rouge_l_only": rate(n_r, py["rouge_l_seconds"]),
         "python_mc": rate(n_mc, py["mc_seconds"]),
         "python_mc_plain": rate(n_mc, py["mc_plain_seconds"])}
    if swift:
        r["swift_rouge"] = rate(swift["rouge_pairs"], swift["rouge_seconds"])
        r["swift_mc"] = rate(swift["mc_rows"], swift["mc_seconds"])
        r["rouge_speedup"] = r["swift_rouge"] / r["python_rouge_l_only"]
        r["rouge_speedup_vs_default"] = r["swift_rouge"] / r["python_rouge_default"]
        r["mc_speedup"] = r["swift_mc"] / r["python_mc"]
        r["mc_speedup_plain"] = r["swift_mc"] / r["python_mc_plain"]
    rows = [("rouge-l", "python rouge (default metrics)", "python_rouge_default", "pairs/s", ""),
            ("rouge-l", "python rouge (rouge-l only)", "python_rouge_l_only", "pairs/s", "")]
    if swift:
        rows.append(("rouge-l", "swift", "swift_rouge", "pairs/s",
                     f"{r['rouge_speedup']:.1f}x rouge-l only (target >= 20x), "
                     f"{r['rouge_speedup_vs_default']:.1f}x default"))
    rows.append(("mc-parse", "python (straightforward)", "python_mc_plain", "rows/s", ""))
    rows.append(("mc-parse", "python (patterns prebuilt)", "python_mc", "rows/s", ""))
    if swift:
        rows.append(("mc-parse", "swift", "swift_mc", "rows/s",
                     f"{r['mc_speedup_plain']:.1f}x straightforward (target >= 20x), "
                     f"{r['mc_speedup']:.1f}x prebuilt"))
    print(f"scoring throughput (single thread), {n_r} recipe pairs, {n_mc} food101 rows")
    for task, who, key, unit, extra in rows:
        print(f"{task:9} {who:31} {r[key]:12.0f} {unit:8} {extra}".rstrip())
    print(f"results: rouge-l F x100 sum {py['rouge_sum']:.6f}, mc accuracy sum "
          f"{py['mc_acc_sum']}" + (" (swift agrees)" if swift else " (python only)"))
    return r


def run_python(Rouge, workdir, names, label_index):
    recipes, food = read_jsonl(workdir / "recipes.jsonl"), read_jsonl(workdir / "food101.jsonl")
    rouge_sum, t_default = time_rouge(Rouge(), recipes)
    rouge_l_sum, t_l = time_rouge(Rouge(metrics=["rouge-l"]), recipes)
    if not math.isclose(rouge_sum, rouge_l_sum, rel_tol=1e-12):
        print(f"MISMATCH python rouge variants {rouge_sum!r} vs {rouge_l_sum!r}")
        sys.exit(1)
    mc_sum, t_mc = time_mc(food, label_index, dict(enumerate(names)))
    mc_plain_sum, t_plain = time_mc_straightforward(food, label_index, dict(enumerate(names)))
    if mc_plain_sum != mc_sum:
        print(f"MISMATCH python parser variants {mc_plain_sum} vs {mc_sum}")
        sys.exit(1)
    return {"rouge_pairs": len(recipes), "rouge_sum": rouge_sum, "mc_rows": len(food),
            "mc_acc_sum": mc_sum, "rouge_default_seconds": t_default,
            "rouge_l_seconds": t_l, "mc_seconds": t_mc, "mc_plain_seconds": t_plain}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench-bin", help="workbench-bench executable; omit for Python only")
    ap.add_argument("--workdir", help="where the inputs are written (default: a temp dir)")
    ap.add_argument("--recipes", type=int, default=10_000)
    ap.add_argument("--food101", type=int, default=100_000)
    ap.add_argument("--json", help="write the numbers to this file as JSON")
    args = ap.parse_args()
    if args.bench_bin and not os.access(args.bench_bin, os.X_OK):
        sys.exit(f"error: --bench-bin {args.bench_bin} is not an executable file")
    try:
        from rouge import Rouge
    except ImportError:
        print("error: pip install rouge==1.0.1 (see benchmarks/scoring/README or "
              "python/requirements.txt)", file=sys.stderr)
        sys.exit(69)

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-scoring-"))
    workdir.mkdir(parents=True, exist_ok=True)
    label_of = json.loads(FOOD101_LABELS.read_text(encoding="utf-8"))
    label_index = {k.replace("_", " "): v for k, v in label_of.items()}
    names = sorted(label_index, key=label_index.get)  # names[i] has label index i
    generate(workdir, args.recipes, args.food101, names)
    py = run_python(Rouge, workdir, names, label_index)
    swift = None
    if args.bench_bin:
        swift = run_swift(args.bench_bin, workdir)
        check(swift, py)
    print(f"inputs: {workdir}")
    rates = report(py, swift)
    if args.json:
        result = {"workdir": str(workdir), "python": py, "swift": swift, "rates": rates}
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
