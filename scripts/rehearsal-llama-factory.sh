#!/usr/bin/env bash
# The rehearsal's LLaMA-Factory: a local git repository made from the released source archive of
# LLaMA-Factory 0.9.3 on PyPI (the release of the 0.9.3 line the paper profile's commit 070b0612
# belongs to; GitHub is not reachable from CI), which the rehearsal profile clones through the same
# `code:` mechanism (libgit2) as the paper profile clones GitHub. The archive's SHA-256 is checked;
# the archive lacks the docs' entry point src/train.py, so a two-line one of ours calling
# llamafactory.train.tuner.run_exp (what the repository's does) is added. Author, committer and
# dates are fixed, so the commit id is the same on every machine: the catalog pins it
# (experiments/adamllm/adamllm.yaml, code: llama-factory, profiles: rehearsal).
#   scripts/rehearsal-llama-factory.sh GIT_DIR      (a bare repository; made once, then checked)
set -euo pipefail
out=$1
version=0.9.3
sha256=2ecfd639ad1c7cb9d499828253d5e380e9feb875eb9d19e41d23a126d98ba512
if [ -d "$out" ] && git -C "$out" rev-parse --verify -q HEAD >/dev/null; then
  echo "rehearsal-llama-factory: $out at $(git -C "$out" rev-parse HEAD)"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: -d "$tmp/dl" "llamafactory==$version"
archive="$tmp/dl/llamafactory-$version.tar.gz"
[ -f "$archive" ] || { echo "rehearsal-llama-factory: pip gave no llamafactory-$version.tar.gz" >&2; exit 1; }
got=$(sha256sum "$archive" | cut -d' ' -f1)
[ "$got" = "$sha256" ] || { echo "rehearsal-llama-factory: $archive has SHA-256 $got, expected $sha256" >&2; exit 1; }
mkdir "$tmp/src"
tar -xzf "$archive" -C "$tmp/src" --strip-components=1 --no-same-owner
printf '%s\n' "from llamafactory.train.tuner import run_exp" "" 'if __name__ == "__main__":' "    run_exp()" >"$tmp/src/src/train.py"
export GIT_AUTHOR_NAME="workbench rehearsal" GIT_AUTHOR_EMAIL="rehearsal@workbench.invalid"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"
export GIT_AUTHOR_DATE="2025-06-17T00:00:00+0000" GIT_COMMITTER_DATE="2025-06-17T00:00:00+0000"
git -C "$tmp/src" -c init.defaultBranch=main init -q
git -C "$tmp/src" -c core.fileMode=true add -A
git -C "$tmp/src" -c commit.gpgsign=false commit -q -m "llamafactory $version released source (PyPI sdist sha256 $sha256) with src/train.py"
rm -rf "$out"
mkdir -p "$(dirname "$out")"
git clone -q --bare "$tmp/src" "$out"
echo "rehearsal-llama-factory: $out at $(git -C "$out" rev-parse HEAD)"
