#!/usr/bin/env bash
# Benchmark 4 (REST polling): wrk on GET /api/llm/progress/{id} against a plain Vert.x route that
# returns a constant JSON object (that same operation's JSON, captured once) from a second HTTP
# server in the same JVM (bench/java/BenchDriver.java). Hoist's route goes through its router
# (security headers, access check, body handler), an event-bus request to the registry, which answers
# with the operation's JSON text (encoded once per change), and the reply; the baseline encodes a
# constant. Rounds alternate, after a warm-up long enough for the JIT to settle on 2 cores (in
# shorter ones both kept getting faster from round to round, Hoist's longer path more slowly).
# Writes $PARTS/rest.json.
#
# Env: REST_SECONDS (per wrk run, default 6), REST_CONNECTIONS (default 32), REST_ROUNDS (default 5),
# REST_WARMUP_SECONDS (per target, twice each, default 6).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
install_cleanup

SECONDS_PER_RUN=${REST_SECONDS:-6}
CONNECTIONS=${REST_CONNECTIONS:-32}
ROUNDS=${REST_ROUNDS:-5}
WARMUP=${REST_WARMUP_SECONDS:-6}

scratch_dir data
start_driver rest "$data"
id=$(curl -fs -X POST "$CONTROL_URL/bench/ops?count=1&prefix=rest" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["ids"][0])')
sleep 1
size=$(curl -fs -X POST "$CONTROL_URL/bench/baseline?id=$id" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["bytes"])')
hoist_url="$HOIST_URL/api/llm/progress/$id"
base_url="$CONTROL_URL/baseline"
log "rest: operation $id ($size bytes of JSON); wrk -t1 -c$CONNECTIONS -d${SECONDS_PER_RUN}s, $ROUNDS rounds"

# A warm-up of both (JIT), alternating, not recorded.
for _ in 1 2; do
  wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "$base_url" >/dev/null
  wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "$hoist_url" >/dev/null
done

runs="$PARTS/rest.jsonl"
: >"$runs"
for round in $(seq 1 "$ROUNDS"); do
  for target in baseline hoist; do
    url=$base_url
    [ "$target" = hoist ] && url=$hoist_url
    cpu0=$(cpu_of "$DRIVER_PID")
    out=$(wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" -s "$LIB/wrk-json.lua" "$url" | tail -1)
    cpu1=$(cpu_of "$DRIVER_PID")
    "$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(target=sys.argv[2], round=int(sys.argv[3]), jvm_cpu_s=float(sys.argv[5])-float(sys.argv[4])); print(json.dumps(d))' \
      "$out" "$target" "$round" "$cpu0" "$cpu1" >>"$runs"
    log "$(tail -1 "$runs")"
  done
done
"$PY" -c 'import json,sys; print(json.dumps({"operation_json_bytes": int(sys.argv[1]), "connections": int(sys.argv[2]),
  "seconds_per_run": int(sys.argv[3]), "runs": [json.loads(l) for l in open(sys.argv[4])]}))' \
  "$size" "$CONNECTIONS" "$SECONDS_PER_RUN" "$runs" >"$PARTS/rest.json"
log "rest: done"
