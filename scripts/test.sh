#!/usr/bin/env bash
# Sets up and runs every test: system packages, Swift build and tests (Swift Testing, with a private
# single-node Slurm cluster running), the Python stage tests, then the smoke chain end to end through
# the built binary, locally and through Slurm. The ML steps run after
# the Swift build, never beside it (2 cores). The last line counts the suites.
#   usage: scripts/test.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
passed=0 failed=0 failures=()
step() {  # step NAME COMMAND...
  local name=$1; shift
  echo "=== $name"
  local t0=$(date +%s)
  if "$@"; then passed=$((passed + 1)); echo "=== $name: ok ($(( $(date +%s) - t0 )) s)"
  else failed=$((failed + 1)); failures+=("$name"); echo "=== $name: FAILED ($(( $(date +%s) - t0 )) s)"; fi
}
scripts/bootstrap.sh || exit 1
# The checked-in .swift-format, enforced: `swift format -i -r Sources Tests benchmarks/Sources` fixes
# what it can (generated files carry swift-format-ignore-file).
step "swift format" swift format lint --strict -r Sources Tests benchmarks/Sources
step "swift build" swift build --build-tests
# A private single-node Slurm cluster with two fake GPUs (scripts/slurm-cluster.sh) for the Slurm
# tests and the smoke chain through Slurm; stopped on exit. WORKBENCH_REQUIRE_SLURM=1 makes the
# Slurm tests fail, not skip, if it is missing.
slurm_dir=$(mktemp -d /tmp/wb-slurm.XXXXXX)
trap 'scripts/slurm-cluster.sh stop "$slurm_dir" >/dev/null 2>&1' EXIT
trap 'exit 130' INT TERM
step "slurm cluster" scripts/slurm-cluster.sh start "$slurm_dir" --gpus 2
export SLURM_CONF="$slurm_dir/slurm.conf" WORKBENCH_REQUIRE_SLURM=1
# A headless browser for the HTML report tests (they check what it lays out); with
# WORKBENCH_REQUIRE_BROWSER=1 those tests fail, not skip, when it is missing.
if ! command -v chromium-headless-shell >/dev/null && ! command -v chromium >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "test: installing chromium-headless-shell for the HTML report tests"
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium-headless-shell >/dev/null; } \
    || echo "test: could not install chromium-headless-shell"
fi
export WORKBENCH_REQUIRE_BROWSER=1
# pdflatex for the LaTeX report tests (every table compiled in a plain article, no overfull
# box): Debian's texlive with booktabs and graphicx; WORKBENCH_REQUIRE_PDFLATEX=1 makes a missing
# one a failure, not a skip.
if ! command -v pdflatex >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "test: installing texlive-latex-recommended for the LaTeX report tests"
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends texlive-latex-recommended texlive-latex-base poppler-utils >/dev/null; } \
    || echo "test: could not install texlive-latex-recommended"
fi
export WORKBENCH_REQUIRE_PDFLATEX=1
step "swift test" swift test --disable-xctest --skip-build
step "python environment" scripts/setup-ml.sh
step "python stage tests" env OMP_NUM_THREADS=1 WORKBENCH_REQUIRE_BINARY=1 WORKBENCH_REQUIRE_TMPFS=1 sh -c 'cd python && ../.venv-ml/bin/python -m pytest -q -p no:cacheprovider tests'
step "smoke chain end to end" scripts/smoke-check.sh
# The paper's recipes on the real LLaMA-Factory, transformers and datasets (CPU, tiny checkpoints):
# scripts/rehearse.sh's default cells, checked (scripts/rehearsal-check.sh).
step "rehearsal (real LLaMA-Factory)" scripts/rehearsal-check.sh
[ $failed -eq 0 ] || echo "failed: ${failures[*]}"
echo "suites: $passed passed, $failed failed"
[ $failed -eq 0 ]
