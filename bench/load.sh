#!/usr/bin/env bash
# Benchmark 2 (load): Hoist's load stage against `cat file > /dev/null` on the same 4 GiB file.
#
# Hoist's cache (on disk, not tmpfs, so a cold read is possible) holds bench/huge already; Hoist
# loads it once (not measured), then, for each of "warm" (the file read once just before) and
# "cold" (the file dropped from the page cache just before, where the machine allows it), we time `cat blob > /dev/null` and a load through the API — the
# download stage finds the file in the cache, so only the timeline's loading -> finalizing counts.
# Writes $PARTS/load.jsonl and $PARTS/load.json.
#
# Env: LOAD_SIZE (bytes, default 4 GiB), LOAD_RUNS (runs per mode, default 2).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
install_cleanup

SIZE=${LOAD_SIZE:-$((4 << 30))}
RUNS=${LOAD_RUNS:-2}
REPO=bench/huge

model="$FIXTURES/huge-$SIZE.safetensors"
fixture_model "$model" "$SIZE" >/dev/null
scratch_dir site /tmp
"$PY" "$LIB/fixtures.py" site "$site" "$REPO" "$model" >/dev/null
start_nginx "$site"   # the metadata endpoints; the file itself is already in the cache

# Hoist's cache is seeded with the fixture itself (a hard link into the Hugging Face cache layout,
# blobs/<sha256>, on the same disk): the download stage finds the file complete and fetches nothing,
# and the load stage reads the very file `cat` reads. (Without a hard link, a copy.)
scratch_dir data "$(dirname "$FIXTURES")"
blob="$data/hub/models--${REPO/\//--}/blobs/$(cat "$model.sha256")"
mkdir -p "$(dirname "$blob")"
ln "$model" "$blob" 2>/dev/null || cp "$model" "$blob"
start_hoist load "$data"
unload() { curl -fs -X POST "$HOIST_URL/api/llm/models/${REPO/\//%2F}/unload" -o /dev/null || die "unload failed"; }
log "load: $((SIZE >> 20)) MiB at $blob; one load first (not measured)"
"$PY" "$LIB/hoist_op.py" --base "$HOIST_URL" --pid "$HOIST_PID" --model "$REPO" >"$OUT/load-first.json" \
  || die "first load failed: $(cat "$OUT/load-first.json")"
unload

runs="$PARTS/load.jsonl"
: >"$runs"

# prepare MODE: warm reads the file once; cold drops it from the page cache. Prints how.
prepare() {
  if [ "$1" = warm ]; then
    warm_file "$blob"
    echo warm
  else
    drop_file_cache "$blob"
  fi
}

record() { # record TOOL MODE HOW CACHED_PCT JSON
  "$PY" -c 'import json,sys; d=json.loads(sys.argv[5]); d.update(tool=sys.argv[1], mode=sys.argv[2], prepared=sys.argv[3], cached_pct=int(sys.argv[4]), bytes=int(sys.argv[6])); print(json.dumps(d))' \
    "$1" "$2" "$3" "$4" "$5" "$SIZE" >>"$runs"
  log "$(tail -1 "$runs")"
}

for mode in warm cold; do
  for r in $(seq 1 "$RUNS"); do
    how=$(prepare "$mode"); pct=$(page_cached_pct "$blob")
    record cat "$mode" "$how" "$pct" "$("$PY" "$LIB/timed.py" sh -c 'cat "$1" > /dev/null' sh "$blob")"
    how=$(prepare "$mode"); pct=$(page_cached_pct "$blob")
    out=$("$PY" "$LIB/hoist_op.py" --base "$HOIST_URL" --pid "$HOIST_PID" --model "$REPO") || die "load failed: $out"
    unload
    record hoist "$mode" "$how" "$pct" "$("$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print(json.dumps({"seconds": d["load_s"], "cpu_s": d["load_cpu_s"], "operation_id": d["operation_id"]}))' "$out")"
  done
done

"$PY" -c 'import json,sys; print(json.dumps({"size": int(sys.argv[1]), "runs_per_mode": int(sys.argv[2]),
  "runs": [json.loads(l) for l in open(sys.argv[3])]}))' "$SIZE" "$RUNS" "$runs" >"$PARTS/load.json"
log "load: done"
