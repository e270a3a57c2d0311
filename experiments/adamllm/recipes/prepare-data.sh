#!/usr/bin/env bash
# Training data of one source for the paper profile: the dataset repositories the catalog names,
# fetched at their pinned revisions with `workbench fetch` (only the files needed), then laid out
# by python/workbench_data/prepare.py: OUT/images (the archives' images, extracted once per
# snapshot into IMAGE_STORE), OUT/image_caption_pairs.json and OUT/instructions.json (ShareGPT
# messages/images, every image checked), OUT/data.json, and OUT/manifests/*.json (each
# repository's commit and the SHA-256 of every file fetched).
#   prepare-data.sh OUT IMAGE_STORE IMAGES GLOB CAPTIONS CAPTIONS_FILE INSTRUCTIONS INSTRUCTIONS_FILE
# IMAGES: a dataset repository ORG/NAME@REVISION holding the image archives (GLOB, at any depth), or
# the absolute path of a folder already holding the images (a source no public archive serves).
# CAPTIONS, INSTRUCTIONS: "-" for none; a dataset repository ORG/NAME@REVISION and the JSON file in
# it (*_FILE); a plain file https://HOST/PATH#sha256=HEX (fetched into the content-addressed store,
# its digest checked; *_FILE unused); or the absolute path of a local JSON file.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
out=$1 store=$2 images=$3 glob=$4 captions=$5 captions_file=$6 instructions=$7 instructions_file=$8
mkdir -p "$out/manifests"

# fetch NAME REPO@REV GLOB -> the snapshot folder (only the files matching GLOB are downloaded)
fetch() {
  "$WORKBENCH" fetch "datasets/$2" --include "$3" --include "*/$3" --manifest "$out/manifests/$1.json" --quiet
}
# json NAME SOURCE FILE -> the path of the JSON file SOURCE names
json() {
  case "$2" in
    http://* | https://*) "$WORKBENCH" fetch "$2" --manifest "$out/manifests/$1.json" --quiet ;;
    /*) [ -s "$2" ] || { echo "prepare-data: $2 is missing or empty; \`workbench plan\` says what to put there" >&2; exit 1; }
        echo "$2" ;;
    *) echo "$(fetch "$1" "$2" "$3")/$3" ;;
  esac
}
if [[ $images == /* ]]; then
  args=(--out "$out" --image-folder "$images")
else
  snapshot=$(fetch images "$images" "$glob")
  args=(--out "$out" --image-store "$store" --archives "$snapshot" --archive-glob "$glob")
fi
if [ "$captions" != - ]; then
  path=$(json captions "$captions" "$captions_file")
  args+=(--captions "$path")
fi
if [ "$instructions" != - ]; then
  path=$(json instructions "$instructions" "$instructions_file")
  args+=(--instructions "$path")
fi
PYTHONPATH="$repo/python" python3 -m workbench_data.prepare "${args[@]}"
