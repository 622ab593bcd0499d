#!/usr/bin/env bash
# Benchmarks 1 (download) and 5 (progress overhead).
#
# One 2 GiB safetensors file, served by Debian's nginx in the hub's URL shape on loopback, page cache
# warm, fetched into the same tmpfs by:
#   curl          one stream
#   aria2c        -x8 -s8 (8 connections)
#   hoist         POST /api/llm/load, default HOIST_PROGRESS_INTERVAL_MS=200; time = the timeline's
#                 downloading -> loading, CPU = the JVM's CPU time over that window (/proc/PID/stat)
#   hoist-quiet   the same with HOIST_PROGRESS_INTERVAL_MS=10000: progress reports 10 s apart, the
#                 nearest thing to "progress off" (there is no switch to turn it off)
# Both Hoists run side by side for the whole benchmark, each warmed up first with one 256 MiB download
# and DL_WARMUPS of the measured file itself, so the rounds measure a running service, not its JIT: a
# JVM here takes 4-5 downloads of 2 GiB to settle (4.8, 3.9, 3.6, 3.2, then 3.0 s), and with two
# warm-ups the compiler threads still took 0.3-1.3 CPU s in the measured rounds against ~0.1 s later.
# The warm-ups of the 2 GiB file are recorded too (tools warm-up and warm-up-quiet, round = the
# warm-up's number): the first one is what a freshly started Hoist does, shown next to the goal.
# The order of the four rotates every round. Then, for benchmark 5, OVERHEAD_PAIRS more
# pairs of the two Hoists back to back, in alternating order (ABBA), with nothing else in between:
# the overhead is the median of the ratios within each pair (the rounds above count as pairs too).
# Writes $PARTS/download.jsonl (one line per transfer) and $PARTS/download.json.
#
# Env: DL_SIZE (bytes, default 2 GiB), DL_RUNS (rounds, default 5), DL_WARMUPS (default 4),
# OVERHEAD_PAIRS (default 6).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
install_cleanup

SIZE=${DL_SIZE:-$((2 << 30))}
RUNS=${DL_RUNS:-5}
WARMUPS=${DL_WARMUPS:-4}
PAIRS=${OVERHEAD_PAIRS:-6}
REPO=bench/big

model="$FIXTURES/big-$SIZE.safetensors"
fixture_model "$model" "$SIZE" >/dev/null
WARM_SIZE=$((256 << 20))
warm_model="$FIXTURES/big-$WARM_SIZE.safetensors"
fixture_model "$warm_model" "$WARM_SIZE" >/dev/null
scratch_dir site /tmp
commit=$("$PY" "$LIB/fixtures.py" site "$site" "$REPO" "$model")
"$PY" "$LIB/fixtures.py" site "$site" bench/warm-up "$warm_model" >/dev/null
start_nginx "$site"
url="http://127.0.0.1:$NGINX_PORT/$REPO/resolve/$commit/model.safetensors"
warm_file "$model"
log "download: $((SIZE >> 20)) MiB from nginx :$NGINX_PORT, $RUNS rounds; page cache of the source: $(page_cached_pct "$model")%"

scratch_dir dest
avail=$(df -B1 --output=avail "$dest" | tail -1)
[ "$avail" -gt $((SIZE * 3)) ] || die "need $((SIZE * 3 >> 20)) MiB free in $dest ($(df -h "$dest" | tail -1))"

start_hoist dl "$dest/hoist"
HOIST_ON_PID=$HOIST_PID HOIST_ON_URL=$HOIST_URL
start_hoist dl-quiet "$dest/hoist-quiet" HOIST_PROGRESS_INTERVAL_MS=10000
HOIST_OFF_PID=$HOIST_PID HOIST_OFF_URL=$HOIST_URL

runs="$PARTS/download.jsonl"
: >"$runs"

record() { # record TOOL ROUND JSON
  "$PY" -c 'import json,sys; d=json.loads(sys.argv[3]); d.update(tool=sys.argv[1], round=int(sys.argv[2]), bytes=int(sys.argv[4])); print(json.dumps(d))' \
    "$1" "$2" "$3" "$SIZE" >>"$runs"
}

# A fresh JVM compiles the download path while it runs its first downloads (seen here: several CPU
# seconds in the JIT's threads): each Hoist first fetches a 256 MiB file, then the measured one
# DL_WARMUPS times, recorded apart from the rounds.
warm_up() { # warm_up TOOL URL PID DATA
  local out
  "$PY" "$LIB/hoist_op.py" --base "$2" --pid "$3" --model bench/warm-up --stop-at loading >/dev/null \
    || die "warm-up download failed"
  rm -rf "$4/hub"
  for k in $(seq 1 "$WARMUPS"); do
    out=$("$PY" "$LIB/hoist_op.py" --base "$2" --pid "$3" --model "$REPO" --stop-at loading) \
      || die "warm-up download failed: $out"
    rm -rf "$4/hub"
    record "$1" "$k" "$("$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print(json.dumps({"seconds": d["download_s"], "cpu_s": d["download_cpu_s"]}))' "$out")"
  done
}
warm_up warm-up "$HOIST_ON_URL" "$HOIST_ON_PID" "$dest/hoist"
warm_up warm-up-quiet "$HOIST_OFF_URL" "$HOIST_OFF_PID" "$dest/hoist-quiet"
log "download: Hoists warmed up"

run_curl() {
  local out
  out=$("$PY" "$LIB/timed.py" curl -sS --fail -o "$dest/curl.bin" "$url")
  [ "$(stat -c %s "$dest/curl.bin")" = "$SIZE" ] || die "curl fetched a wrong size"
  rm -f "$dest/curl.bin"
  record curl "$1" "$out"
}

run_aria2c() {
  local out
  out=$("$PY" "$LIB/timed.py" aria2c -x8 -s8 --no-conf --quiet=true --file-allocation=falloc \
    --allow-overwrite=true --auto-file-renaming=false -d "$dest" -o aria2c.bin "$url")
  [ "$(stat -c %s "$dest/aria2c.bin")" = "$SIZE" ] || die "aria2c fetched a wrong size"
  rm -f "$dest/aria2c.bin"
  record aria2c "$1" "$out"
}

# run_hoist TOOL URL PID DATA ROUND: a fresh cache each time; the operation is cancelled once it
# reaches the load stage (only the download is measured here).
run_hoist() {
  local tool=$1 base=$2 pid=$3 data=$4 round=$5 out id
  rm -rf "$data/hub"
  threads=$("$PY" "$LIB/threads.py" "$pid")
  out=$("$PY" "$LIB/hoist_op.py" --base "$base" --pid "$pid" --model "$REPO" --stop-at loading) \
    || die "$tool: the load did not reach the load stage: $out"
  threads=$("$PY" "$LIB/threads.py" "$pid" "$threads")  # the JVM's CPU by thread over the whole operation
  id=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["operation_id"])' "$out")
  curl -fs -X DELETE "$base/api/llm/progress/$id" -o /dev/null || true
  out=$("$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print(json.dumps({"seconds": d["download_s"], "cpu_s": d["download_cpu_s"], "operation_id": d["operation_id"], "threads_cpu_s": json.loads(sys.argv[2])}))' "$out" "$threads")
  rm -rf "$data/hub"
  record "$tool" "$round" "$out"
}

tools=(curl aria2c hoist hoist-quiet)
for round in $(seq 1 "$RUNS"); do
  for i in 0 1 2 3; do
    tool=${tools[$(((i + round - 1) % 4))]}
    case $tool in
      curl) run_curl "$round" ;;
      aria2c) run_aria2c "$round" ;;
      hoist) run_hoist hoist "$HOIST_ON_URL" "$HOIST_ON_PID" "$dest/hoist" "$round" ;;
      hoist-quiet) run_hoist hoist-quiet "$HOIST_OFF_URL" "$HOIST_OFF_PID" "$dest/hoist-quiet" "$round" ;;
    esac
    log "round $round: $(tail -1 "$runs")"
  done
done

# Benchmark 5: more pairs of the two Hoists only, back to back, alternating which goes first.
for pair in $(seq 1 "$PAIRS"); do
  round=$((RUNS + pair))
  if [ $((pair % 2)) = 1 ]; then order="hoist hoist-quiet"; else order="hoist-quiet hoist"; fi
  for tool in $order; do
    case $tool in
      hoist) run_hoist overhead-on "$HOIST_ON_URL" "$HOIST_ON_PID" "$dest/hoist" "$round" ;;
      hoist-quiet) run_hoist overhead-off "$HOIST_OFF_URL" "$HOIST_OFF_PID" "$dest/hoist-quiet" "$round" ;;
    esac
    log "overhead pair $pair: $(tail -1 "$runs")"
  done
done

# For scale, not a goal: what sha256 alone costs per GB here (Hoist hashes every byte it downloads),
# with OpenSSL, which uses the CPU's SHA instructions as the JVM's intrinsic does (coreutils' sha256sum
# does not, and is several times slower).
if command -v openssl >/dev/null; then
  record sha256 0 "$("$PY" "$LIB/timed.py" openssl dgst -sha256 "$model" 2>/dev/null)"
fi

"$PY" -c 'import json,sys; print(json.dumps({"size": int(sys.argv[1]), "rounds": int(sys.argv[2]), "destination": "tmpfs",
  "overhead_pairs": int(sys.argv[4]), "runs": [json.loads(l) for l in open(sys.argv[3])]}))' "$SIZE" "$RUNS" "$runs" "$PAIRS" >"$PARTS/download.json"
log "download: done"
