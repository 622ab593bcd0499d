#!/usr/bin/env bash
# Benchmark 3 (fan-out): WebSocket subscribers on /api/llm/ws in a separate Node process
# (bench/node/fanout-client.js, the `ws` package) while operations update; Hoist runs in-process
# with the driver (bench/java/BenchDriver.java), which creates the operations and sends their
# progress reports over the event bus, stamped with the send time. See fanout-client.js for the phases.
# Writes $PARTS/fanout.json.
#
# Env: FANOUT_CONNECTIONS (default 10000), FANOUT_LIVE (of those, how many follow "*" while the
# operations update; default 20), FANOUT_OPS (default 100), FANOUT_HZ (updates a second per
# operation, default 10), FANOUT_SECONDS (default 10).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
install_cleanup

N=${FANOUT_CONNECTIONS:-10000}
LIVE=${FANOUT_LIVE:-20}
OPS=${FANOUT_OPS:-100}
HZ=${FANOUT_HZ:-10}
SECS=${FANOUT_SECONDS:-10}

# Each connection is a file descriptor on both sides.
need=$((N + 1000))
[ "$(ulimit -n)" -ge "$need" ] || ulimit -n "$need" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge "$need" ] || die "ulimit -n is $(ulimit -n) (hard $(ulimit -Hn)); $N connections need $need"

scratch_dir data
start_driver fanout "$data" HOIST_WS_MAX_CONNECTIONS=$((N + 100))
log "fanout: $N connections ($LIVE live), $OPS operations x $HZ Hz for ${SECS}s"
node "$BENCH_DIR/node/fanout-client.js" --hoist "$HOIST_URL" --control "$CONTROL_URL" \
  --connections "$N" --live "$LIVE" --ops "$OPS" --rate $((OPS * HZ)) --seconds "$SECS" --warmup "${FANOUT_WARMUP:-3}" \
  >"$OUT/fanout-raw.json" 2> >(tee "$OUT/fanout-client.log" >&2) || die "fan-out client failed"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); d.update(requested_ops=int(sys.argv[2]), requested_hz=float(sys.argv[3])); print(json.dumps(d))' \
  "$OUT/fanout-raw.json" "$OPS" "$HZ" >"$PARTS/fanout.json"
log "fanout: done"
