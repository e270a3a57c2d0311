#!/usr/bin/env bash
# The synthesizer's seed data for the paper profile (Table 5's general-task and no-blank-image
# ablations): Vision-FLAN's instructions and image archive and ALLaVA-4V's VFLAN captions and
# informative answers, fetched at their pinned revisions with `workbench fetch` (only the files
# needed), then laid out by python/workbench_data/seed.py: OUT/images (extracted once per
# snapshot into IMAGE_STORE), OUT/caption.json, OUT/precise.json, OUT/informative.json (what
# upstream scripts/tune_synthesizer.sh reads), OUT/triplets.jsonl (the seed tasks for the
# consistency filter), OUT/seed.json and OUT/manifests/*.json.
#   prepare-seed.sh OUT IMAGE_STORE SEED@REV GLOB SEED_FILE ALLAVA@REV CAPTIONS_FILE INSTRUCT_FILE
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
out=$1 store=$2 seed=$3 glob=$4 seed_file=$5 allava=$6 captions_file=$7 instruct_file=$8
mkdir -p "$out/manifests"
vflan=$("$WORKBENCH" fetch "datasets/$seed" --include "$seed_file" --include "$glob" --include "*/$glob" --manifest "$out/manifests/vision-flan.json" --quiet)
allava_dir=$("$WORKBENCH" fetch "datasets/$allava" --include "$captions_file" --include "$instruct_file" --manifest "$out/manifests/allava.json" --quiet)
PYTHONPATH="$repo/python" python3 -m workbench_data.seed --out "$out" --image-store "$store" \
  --archives "$vflan" --archive-glob "$glob" --precise "$vflan/$seed_file" \
  --captions "$allava_dir/$captions_file" --informative "$allava_dir/$instruct_file"
