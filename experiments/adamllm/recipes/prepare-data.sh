#!/usr/bin/env bash
# Training data of one source for the paper profile: the dataset repositories the catalog names,
# fetched at their pinned revisions with `workbench fetch` (only the files needed), then laid out
# by python/workbench_data/prepare.py: OUT/images (the archives' images, extracted once per
# snapshot into IMAGE_STORE), OUT/image_caption_pairs.json and OUT/instructions.json (ShareGPT
# messages/images, every image checked), OUT/data.json, and OUT/manifests/*.json (each
# repository's commit and the SHA-256 of every file fetched).
#   prepare-data.sh OUT IMAGE_STORE IMAGES GLOB CAPTIONS CAPTIONS_FILE INSTRUCTIONS INSTRUCTIONS_FILE
# IMAGES, CAPTIONS, INSTRUCTIONS: dataset repositories as ORG/NAME@REVISION (CAPTIONS, INSTRUCTIONS: "-" for none);
# GLOB: the image archives in IMAGES (at any depth); *_FILE: the JSON file in that repository.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
out=$1 store=$2 images=$3 glob=$4 captions=$5 captions_file=$6 instructions=$7 instructions_file=$8
mkdir -p "$out/manifests"

# fetch NAME REPO@REV GLOB -> the snapshot folder (only the files matching GLOB are downloaded)
fetch() {
  "$WORKBENCH" fetch "datasets/$2" --include "$3" --include "*/$3" --manifest "$out/manifests/$1.json" --quiet
}
snapshot=$(fetch images "$images" "$glob")
args=(--out "$out" --image-store "$store" --archives "$snapshot" --archive-glob "$glob")
if [ "$captions" != - ]; then
  snapshot=$(fetch captions "$captions" "$captions_file")
  args+=(--captions "$snapshot/$captions_file")
fi
if [ "$instructions" != - ]; then
  snapshot=$(fetch instructions "$instructions" "$instructions_file")
  args+=(--instructions "$snapshot/$instructions_file")
fi
PYTHONPATH="$repo/python" python3 -m workbench_data.prepare "${args[@]}"
