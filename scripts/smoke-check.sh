#!/usr/bin/env bash
# End-to-end check of the smoke profile through the built binary, in a scratch copy of the
# repository (so it always really runs): the chain completes, every post-trained model beats the
# untrained one, the outputs have the upstream formats, the pip freeze is recorded, and a second
# invocation is all cache hits. With SLURM_CONF set (scripts/test.sh starts a cluster), the same
# reproduction runs again through Slurm in a second scratch copy and must give the same table.
#   usage: scripts/smoke-check.sh [WORKBENCH_BINARY]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${1:-$repo/.build/debug/workbench}"
[ -x "$bin" ] || { echo "smoke-check: no binary at $bin (swift build first)" >&2; exit 1; }
[ -x "$repo/.venv-ml/bin/python" ] || { echo "smoke-check: no .venv-ml (run scripts/setup-ml.sh)" >&2; exit 1; }
scratch() {  # a scratch copy of the repository's specs and stage code, committed
  local d
  d=$(mktemp -d /tmp/wb-smoke.XXXXXX)
  cp -r "$repo/experiments" "$repo/python" "$d/"
  ln -s "$repo/.venv-ml" "$d/.venv-ml"
  git -C "$d" init -q && git -C "$d" add -A && git -C "$d" -c user.name=smoke -c user.email=smoke@example.invalid commit -qm smoke
  echo "$d"
}
ws=$(scratch)
wss=""
trap 'rm -rf "$ws" ${wss:+"$wss"}' EXIT

echo "smoke-check: first reproduction in $ws"
"$bin" reproduce smoke --workspace "$ws" >"$ws/report.md" 2>"$ws/first.log" || { cat "$ws/first.log"; exit 1; }
grep -E "^time:|slowest" "$ws/first.log"
cat "$ws/report.md"

"$repo/.venv-ml/bin/python" - "$ws" <<'PY'
import csv, glob, json, os, sys
ws = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(ws, ".workbench/reports/smoke.csv"))))
by_model = {}
for r in rows:
    by_model.setdefault(r["row"], {})[r["column"]] = float(r["ours"]) if r["ours"] else None
for model, cells in by_model.items():
    general = cells["general"]
    for col in ["rule-two", "ours-two", "rule-single", "ours-single"]:
        assert cells[col] is not None, f"{model}/{col} is pending"
        assert cells[col] > general + 10, f"{model}/{col}: {cells[col]} does not beat the untrained model ({general})"
out = os.path.join(ws, ".workbench/outputs")
pairs = json.load(open(glob.glob(f"{out}/data/*/pairs/image_caption_pairs.json")[0]))
assert pairs and {"messages", "images"} <= set(pairs[0]), "image_caption_pairs.json is not ShareGPT messages+images"
info = json.load(open(glob.glob(f"{out}/format/*/data/dataset_info.json")[0]))
assert all(v.get("formatting") == "sharegpt" for v in info.values()), "dataset_info.json is not LLaMA-Factory sharegpt"
pred = [json.loads(l) for l in open(glob.glob(f"{out}/eval/*/predictions.jsonl")[0])]
assert pred and all({"syn_id", "label", "pred"} <= set(p) for p in pred), "predictions lack syn_id/label/pred"
print("smoke-check: every post-trained model beats the untrained one; upstream formats present")
detail = list(csv.DictReader(open(os.path.join(ws, ".workbench/reports/smoke-detail.csv"))))
assert detail and all(r["ours"] and r["ci_low"] and r["ci_high"] for r in detail), "smoke-detail cells lack values or intervals"
assert all(float(r["ci_low"]) <= float(r["ours"]) <= float(r["ci_high"]) for r in detail), "an interval does not cover its value"
print(f"smoke-check: {len(detail)} detail cells scored natively, each with a bootstrap interval")
seeds = list(csv.DictReader(open(os.path.join(ws, ".workbench/reports/smoke-seeds.csv"))))
assert len(seeds) == 2 and all(r["replicates"] == "3" and r["spread"] and r["ci_low"] for r in seeds), f"smoke-seeds: {seeds}"
for r in seeds:
    assert float(r["ci_low"]) <= float(r["ours"]) <= float(r["ci_high"]), f"smoke-seeds {r['column']}: interval misses the mean"
print("smoke-check: the seeded cell has 3 replicates, " + ", ".join(f"{r['column']} {float(r['ours']):.1f} ±{float(r['spread']):.1f}" for r in seeds))
PY
evals=$("$bin" evaluations --run latest --json --workspace "$ws")
"$repo/.venv-ml/bin/python" - "$ws" "$evals" <<'PY'
import glob, json, os, sys
ws, evals = sys.argv[1], json.loads(sys.argv[2])["evaluations"]
assert len(evals) == 20, f"expected 20 recorded evaluations (10 eval stages x 2 tasks), got {len(evals)}"
# The stage-side Python scorer and the native scorers agree on every eval stage.
by_dir = {}
for e in evals:
    by_dir.setdefault(os.path.dirname(os.path.dirname(e["predictions"])), {})[e["task"]] = e["metrics"]
for d, m in by_dir.items():
    rows = [json.loads(l) for l in open(os.path.join(d, "predictions.jsonl"))]
    opn = [r["score"]["recall"] for r in rows if r.get("answer_type") == "OPEN"]
    assert abs(sum(opn) / len(opn) - m["SLAKE"]["OPEN recall"]["value"]) < 1e-9, f"{d}: OPEN recall differs"
    mc = [r["acc"] for r in rows if "acc" in r]
    assert abs(sum(mc) / len(mc) - m["PMC_VQA"]["acc"]["value"]) < 1e-9, f"{d}: multiple-choice accuracy differs"
print(f"smoke-check: {len(evals)} evaluations recorded; native and stage-side scorers agree on all {len(by_dir)} eval stages")
PY

show=$("$bin" show latest --workspace "$ws")   # (not piped into grep -q: SIGPIPE + pipefail)
grep -q "pip freeze recorded" <<<"$show" || { echo "smoke-check: pip freeze not recorded" >&2; exit 1; }
"$bin" reproduce smoke --workspace "$ws" >/dev/null 2>"$ws/second.log"
grep -q "32 stage(s), 32 cached, 0 to run" "$ws/second.log" || { cat "$ws/second.log"; echo "smoke-check: second run was not all cache hits" >&2; exit 1; }
echo "smoke-check: second invocation: 32 of 32 stages from the cache"

# The first run carried to an empty workspace as a bundle: every table renders there as here
# (all formats), and the audit passes on both sides (tables rebuilt; predictions re-scored here,
# while the imported copy checks the stored per-example scores: its outputs stay in $ws).
first=$("$bin" runs --json --workspace "$ws" | "$repo/.venv-ml/bin/python" -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
"$bin" audit "$first" --workspace "$ws" >"$ws/audit.log" || { cat "$ws/audit.log"; echo "smoke-check: audit of the first run failed" >&2; exit 1; }
wsi=$(mktemp -d /tmp/wb-smoke-import.XXXXXX)
trap 'rm -rf "$ws" "$wsi" ${wss:+"$wss"}' EXIT
"$bin" export "$first" --workspace "$ws" --out "$ws/first.wbbundle" >/dev/null 2>"$ws/export.log" || { cat "$ws/export.log"; exit 1; }
"$bin" import "$ws/first.wbbundle" --workspace "$wsi" >/dev/null 2>"$ws/import.log" || { cat "$ws/import.log"; exit 1; }
grep -q "render here exactly as in the bundle" "$ws/import.log" || { cat "$ws/import.log"; echo "smoke-check: imported reports differ" >&2; exit 1; }
for format in md csv tex html; do
  "$bin" report --run "$first" --format "$format" --workspace "$ws" >"$ws/here.$format"
  "$bin" report --run "$first" --format "$format" --workspace "$wsi" >"$ws/there.$format"
  cmp -s "$ws/here.$format" "$ws/there.$format" || { diff "$ws/here.$format" "$ws/there.$format" | head; echo "smoke-check: $format differs after import" >&2; exit 1; }
done
"$bin" audit "$first" --workspace "$wsi" >"$ws/audit-import.log" || { cat "$ws/audit-import.log"; echo "smoke-check: audit of the imported run failed" >&2; exit 1; }
echo "smoke-check: bundle of run $first ($(du -k "$ws/first.wbbundle" | cut -f1) KiB) imported; md, csv, tex, html identical; $(head -n 1 "$ws/audit-import.log")"

# `workbench ui` over this workspace: every page of the smoke record (runs, the run, its tables,
# compare of the two runs, curves), as HTML and JSON, and every link on them, answer 200.
"$bin" ui --port 0 --workspace "$ws" >"$ws/ui.out" 2>&1 &
ui_pid=$!
trap 'kill "$ui_pid" 2>/dev/null || true; rm -rf "$ws" "$wsi" ${wss:+"$wss"}' EXIT
"$repo/.venv-ml/bin/python" - "$ws" "$first" <<'PY'
import html, json, re, sys, time, urllib.error, urllib.request
ws, first = sys.argv[1], sys.argv[2]
base = None
for _ in range(200):
    m = re.search(r"http://127\.0\.0\.1:\d+/", open(f"{ws}/ui.out").read())
    if m: base = m.group(0); break
    time.sleep(0.05)
assert base, "workbench ui printed no address: " + open(f"{ws}/ui.out").read()
def get(path):
    try:
        with urllib.request.urlopen(base + path.lstrip("/")) as r: return r.status, r.read().decode()
    except urllib.error.HTTPError as e: return e.code, e.read().decode()
runs = json.loads(get("/?format=json")[1])["runs"]
latest = runs[0]["id"]
pages = ["/", f"/runs/{latest}", f"/runs/{first}?audit=1", "/tables", f"/tables/smoke?run={latest}",
         f"/tables/smoke-seeds?run={latest}", f"/tables/smoke-detail?run={latest}", f"/compare?runs={first},{latest}",
         f"/curves?runs={latest}&series=train/loss&group=pipeline"]
seen = set()
for page in pages:
    status, body = get(page)
    assert status == 200 and body.startswith("<!DOCTYPE html>"), f"{page}: {status} {body[:300]}"
    sep = "&" if "?" in page else "?"
    status, data = get(page + sep + "format=json")
    assert status == 200, f"{page} as JSON: {status}"
    json.loads(data)
    for href in re.findall(r'href="(/[^"#]*)', body):
        href = html.unescape(href)
        if href in seen: continue
        seen.add(href)
        assert get(href)[0] == 200, f"{page}: link {href} is broken"
assert "no finding" in get(f"/runs/{first}?audit=1")[1], "the UI's audit of the first run has findings"
seeds = json.loads(get(f"/tables/smoke-seeds?run={latest}&format=json")[1])
assert all(c["replicates"]["n"] == 3 for c in seeds["cells"]), seeds["cells"]
print(f"smoke-check: workbench ui served {len(pages)} pages (HTML and JSON) over this workspace; {len(seen)} links, none broken")
PY
kill "$ui_pid" 2>/dev/null || true
wait "$ui_pid" 2>/dev/null || true

# The paper catalog's smoke profile: two cells of Table 4 (a manual-rules baseline and the
# synthesizer's PMCRefined data, single-stage, Qwen2-VL-2B's stand-in) through the CPU stand-ins,
# reported in the paper's layout, labelled as a stand-in run, without verdicts.
echo "smoke-check: Table 4 of the paper catalog, two cells, profile smoke"
"$bin" reproduce table-4 --profile smoke --workspace "$ws" --format md,csv --jobs 2 \
  --cells row=qwen2-vl-2b,column=recipe1m-single-rule --cells row=qwen2-vl-2b,column=pmc-refined-single-ours \
  >"$ws/table-4.md" 2>"$ws/table-4.log" || { cat "$ws/table-4.log"; exit 1; }
grep -E "^time:" "$ws/table-4.log"
grep -q "Stand-in run (profile \`smoke\`)" "$ws/table-4.md" || { echo "smoke-check: table-4 is not labelled as a stand-in run" >&2; exit 1; }
"$repo/.venv-ml/bin/python" - "$ws" <<'PY'
import csv, os, sys
rows = list(csv.DictReader(open(os.path.join(sys.argv[1], ".workbench/reports/table-4.csv"))))
done = {(r["row"], r["column"]): r for r in rows if r["status"] == "reproduced"}
want = {("qwen2-vl-2b", "recipe1m-single-rule"), ("qwen2-vl-2b", "pmc-refined-single-ours")}
assert set(done) == want, f"reproduced cells {sorted(done)}, expected {sorted(want)}"
for key, r in done.items():
    assert r["verdict"] == "stand-in" and r["paper"] and 0 <= float(r["ours"]) <= 100, (key, r)
print("smoke-check: table-4 (smoke profile): " + ", ".join(f"{c} {float(done[(r, c)]['ours']):.1f} (paper {done[(r, c)]['paper']})" for r, c in sorted(done)))
PY

[ -n "${SLURM_CONF:-}" ] || { echo "smoke-check: SLURM_CONF not set: the run through Slurm is skipped"; exit 0; }
wss=$(scratch)
echo "poll_seconds: 1" > "$wss/slurm.yaml"
echo "smoke-check: the same reproduction through Slurm in $wss"
"$bin" reproduce smoke --workspace "$wss" --runner slurm >"$wss/report.md" 2>"$wss/slurm.log" || { cat "$wss/slurm.log"; exit 1; }
grep -E "submitted" "$wss/slurm.log"
"$repo/.venv-ml/bin/python" - "$ws" "$wss" <<'PY'
import csv, os, sys
local, slurm = sys.argv[1], sys.argv[2]
for name in ["smoke.csv", "smoke-detail.csv", "smoke-seeds.csv"]:
    a = list(csv.DictReader(open(os.path.join(local, ".workbench/reports", name))))
    b = list(csv.DictReader(open(os.path.join(slurm, ".workbench/reports", name))))
    keys = ["row", "column", "ours", "ci_low", "ci_high"]
    pick = lambda rows: [tuple(r.get(k) for k in keys) for r in rows]
    assert pick(a) == pick(b), f"{name}: the Slurm run differs from the local run:\n{pick(a)}\n{pick(b)}"
    print(f"smoke-check: {name}: {len(a)} cells through Slurm identical to the local run")
PY
show=$("$bin" show latest --workspace "$wss")
grep -q "runner slurm" <<<"$show" || { echo "smoke-check: the Slurm run is not recorded as runner slurm" >&2; exit 1; }
