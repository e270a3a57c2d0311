#!/usr/bin/env bash
# Fetch throughput: one 1 GB file from the project's hub look-alike on 127.0.0.1
# (scripts/hub-test-host.py, sendfile), downloaded by `curl` itself and by `workbench fetch`
# (release build), alternately, in the same script against the same server. Prints each run's
# MB/s and peak memory (RSS), and the ratio of the medians. `workbench fetch` also verifies
# the file's SHA-256 while it downloads; curl does not.
#   usage: benchmarks/fetch/run.sh [SIZE_MB (default 1024)] [ROUNDS (default 3)]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
size_mb=${1:-1024}
rounds=${2:-3}
cd "$repo"
swift build -c release --product workbench >/dev/null
bin="$repo/.build/release/workbench"
work=$(mktemp -d /tmp/wb-fetch-bench.XXXXXX)
host_pid=""
trap '[ -n "$host_pid" ] && kill "$host_pid" 2>/dev/null; rm -rf "$work"' EXIT
commit=$(printf 'c%.0s' $(seq 40))
mkdir -p "$work/data"
head -c $((size_mb * 1024 * 1024)) /dev/urandom > "$work/data/big.bin"
python3 - "$work" "$commit" <<'PY'
import json, sys
work, commit = sys.argv[1], sys.argv[2]
json.dump({"repos": {"models/bench/big": {"refs": {"main": commit},
           "commits": {commit: {"big.bin": f"{work}/data/big.bin"}}}}}, open(f"{work}/config.json", "w"))
PY
python3 scripts/hub-test-host.py --config "$work/config.json" --port-file "$work/port" >/dev/null 2>&1 &
host_pid=$!
for _ in $(seq 100); do [ -f "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")
url="http://127.0.0.1:$port/bench/big/resolve/$commit/big.bin"
# The host hashes the file once on the first request; do that before timing.
curl -s -o /dev/null "http://127.0.0.1:$port/api/models/bench/big/revision/main"
measure() {  # measure NAME COMMAND... -> "seconds max_rss_kb"
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t0 = time.monotonic()
subprocess.run(sys.argv[2:], check=True, stdout=subprocess.DEVNULL)
dt = time.monotonic() - t0
print(f"{dt:.3f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
PY
}
curl_times=() wb_times=()
for r in $(seq "$rounds"); do
  rm -f "$work/curl.out"
  read -r t rss < <(measure curl curl -s -o "$work/curl.out" "$url")
  curl_times+=("$t")
  printf 'round %d  curl            %7.1f MB/s  peak RSS %6d KB\n' "$r" "$(echo "$size_mb / $t" | bc -l)" "$rss"
  rm -rf "$work/hf"
  read -r t rss < <(measure wb env HF_HOME="$work/hf" HF_ENDPOINT="http://127.0.0.1:$port" "$bin" fetch bench/big --quiet)
  wb_times+=("$t")
  printf 'round %d  workbench fetch %7.1f MB/s  peak RSS %6d KB\n' "$r" "$(echo "$size_mb / $t" | bc -l)" "$rss"
done
cmp -s "$work/curl.out" "$work/hf/hub/models--bench--big/snapshots/$commit/big.bin" || { echo "the two downloads differ" >&2; exit 1; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
c=$(median "${curl_times[@]}"); w=$(median "${wb_times[@]}")
echo "median: curl $c s, workbench fetch $w s; workbench/curl time ratio $(echo "$w / $c" | bc -l | cut -c1-5) (target <= 1.10)"
