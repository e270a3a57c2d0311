#!/usr/bin/env bash
# Fetch throughput: one 1 GB file from the project's hub look-alike on 127.0.0.1
# (scripts/hub-test-host.py, sendfile), downloaded by `curl` itself and by `workbench fetch`
# (release build), alternately, in the same script against the same server. Prints each run's
# MB/s, CPU seconds and peak memory (RSS), and the ratios of the medians. `workbench fetch`
# verifies the file's SHA-256 while it downloads; bare curl does not, so a third contender is
# curl followed by `openssl dgst -sha256` (the same work, one after the other). On a small machine the
# local server shares the CPUs with the client, so the transfer is CPU-bound and the hashing
# shows; with a remote hub it overlaps with the network. `workbench fetch` runs twice per round:
# with --segments 1 (one stream, like curl) and with its default (4 parallel ranges of 64 MiB,
# hashed in order as they land).
# A second part limits every response to LIMIT_MBPS (default 50 MB/s), as hubs and CDNs limit a
# single connection, and fetches a LIMIT_SIZE_MB file (default 256) with curl and workbench.
#   usage: benchmarks/fetch/run.sh [SIZE_MB (default 1024)] [ROUNDS (default 3)]
#   WORKBENCH_BIN=PATH uses that binary instead of building one (the GPU machine has no Swift).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
size_mb=${1:-1024}
rounds=${2:-3}
cd "$repo"
if [ -n "${WORKBENCH_BIN:-}" ]; then
  bin="$WORKBENCH_BIN"
else
  swift build -c release --product workbench >/dev/null
  bin="$repo/.build/release/workbench"
fi
for tool in curl openssl python3; do command -v "$tool" >/dev/null || { echo "fetch bench: $tool is not installed" >&2; exit 69; }; done
div() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.3f}')" "$1" "$2"; }
echo "fetch bench: $(nproc) CPUs, $size_mb MB, $rounds rounds, $(curl --version | head -n 1 | cut -d' ' -f1-2)"
work=$(mktemp -d /tmp/wb-fetch-bench.XXXXXX)
host_pid=""
trap '[ -n "$host_pid" ] && kill "$host_pid" 2>/dev/null; rm -rf "$work"' EXIT
commit=$(printf 'c%.0s' $(seq 40))
mkdir -p "$work/data"
head -c $((size_mb * 1024 * 1024)) /dev/urandom > "$work/data/big.bin"
limit_mbps=${LIMIT_MBPS:-50} limit_size_mb=${LIMIT_SIZE_MB:-256}
head -c $((limit_size_mb * 1024 * 1024)) /dev/urandom > "$work/data/limited.bin"
python3 - "$work" "$commit" <<'PY'
import json, sys
work, commit = sys.argv[1], sys.argv[2]
json.dump({"repos": {"models/bench/big": {"refs": {"main": commit},
           "commits": {commit: {"big.bin": f"{work}/data/big.bin"}}},
           "models/bench/limited": {"refs": {"main": commit},
           "commits": {commit: {"limited.bin": f"{work}/data/limited.bin"}}}}}, open(f"{work}/config.json", "w"))
PY
python3 scripts/hub-test-host.py --config "$work/config.json" --port-file "$work/port" >/dev/null 2>&1 &
host_pid=$!
for _ in $(seq 100); do [ -f "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")
url="http://127.0.0.1:$port/bench/big/resolve/$commit/big.bin"
# The host hashes the file once on the first request; do that before timing.
curl -s -o /dev/null "http://127.0.0.1:$port/api/models/bench/big/revision/main"
curl -s -o /dev/null "http://127.0.0.1:$port/api/models/bench/limited/revision/main"
measure() {  # measure COMMAND... -> "seconds cpu_seconds max_rss_kb"
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t0 = time.monotonic()
subprocess.run(["sh", "-c", sys.argv[1]], check=True, stdout=subprocess.DEVNULL)
dt = time.monotonic() - t0
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{dt:.3f} {u.ru_utime + u.ru_stime:.2f} {u.ru_maxrss}")
PY
}
line() { printf 'round %d  %-22s %7.1f MB/s  cpu %5.2f s  peak RSS %6d KB\n' "$1" "$2" "$(div "$size_mb" "$3")" "$4" "$5"; }
curl_times=() check_times=() one_times=() wb_times=()
cat "$work/data/big.bin" > /dev/null   # the server reads it from the page cache in every round
for r in $(seq "$rounds"); do
  rm -f "$work/curl.out"; rm -rf "$work/hf"; sync   # each timing starts with no dirty pages
  read -r t cpu rss < <(measure "curl -s -o '$work/curl.out' '$url'")
  curl_times+=("$t"); line "$r" curl "$t" "$cpu" "$rss"
  rm -f "$work/curl.out"; sync
  read -r t cpu rss < <(measure "curl -s -o '$work/curl.out' '$url' && openssl dgst -sha256 '$work/curl.out'")
  check_times+=("$t"); line "$r" "curl + openssl sha256" "$t" "$cpu" "$rss"
  rm -f "$work/curl.out.keep"; mv "$work/curl.out" "$work/curl.out.keep"; sync
  read -r t cpu rss < <(measure "HF_HOME='$work/hf' HF_ENDPOINT='http://127.0.0.1:$port' '$bin' fetch bench/big --quiet --segments 1")
  one_times+=("$t"); line "$r" "workbench, 1 stream" "$t" "$cpu" "$rss"
  rm -rf "$work/hf"; sync
  read -r t cpu rss < <(measure "HF_HOME='$work/hf' HF_ENDPOINT='http://127.0.0.1:$port' '$bin' fetch bench/big --quiet")
  wb_times+=("$t"); line "$r" "workbench fetch" "$t" "$cpu" "$rss"
done
cmp -s "$work/curl.out.keep" "$work/hf/hub/models--bench--big/snapshots/$commit/big.bin" || { echo "the two downloads differ" >&2; exit 1; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
c=$(median "${curl_times[@]}"); k=$(median "${check_times[@]}"); w=$(median "${wb_times[@]}"); o=$(median "${one_times[@]}")
echo "median: curl $c s, curl + openssl sha256 $k s, workbench 1 stream $o s, workbench fetch $w s"
echo "workbench 1 stream/curl time ratio $(div "$o" "$c")"
paired=()
for i in "${!curl_times[@]}"; do paired+=("$(div "${wb_times[$i]}" "${curl_times[$i]}")"); done
echo "median of the per-round ratios workbench/curl: $(median "${paired[@]}") (the same round's curl run; curl's own speed drifts between rounds)"
echo "workbench/curl time ratio $(div "$w" "$c") (target <= 1.10); workbench/(curl + openssl sha256) $(div "$w" "$k")"

# Part 2: every response limited to LIMIT_MBPS, as a hub or CDN limits one connection.
curl -s -o /dev/null "http://127.0.0.1:$port/_set?rate=$((limit_mbps * 1000000))"
lsize=$limit_size_mb
rm -f "$work/curl.out"; rm -rf "$work/hf"; sync
read -r lc cpu rss < <(measure "curl -s -o '$work/curl.out' 'http://127.0.0.1:$port/bench/limited/resolve/$commit/limited.bin'")
printf 'limited to %d MB/s per connection, %d MB: curl %7.1f MB/s  cpu %5.2f s\n' "$limit_mbps" "$lsize" "$(div "$lsize" "$lc")" "$cpu"
read -r lw cpu rss < <(measure "HF_HOME='$work/hf' HF_ENDPOINT='http://127.0.0.1:$port' '$bin' fetch bench/limited --quiet")
printf 'limited to %d MB/s per connection, %d MB: workbench fetch %7.1f MB/s  cpu %5.2f s  peak RSS %d KB\n' "$limit_mbps" "$lsize" "$(div "$lsize" "$lw")" "$cpu" "$rss"
cmp -s "$work/curl.out" "$work/hf/hub/models--bench--limited/snapshots/$commit/limited.bin" || { echo "the two limited downloads differ" >&2; exit 1; }
echo "limited: workbench/curl time ratio $(div "$lw" "$lc")"
