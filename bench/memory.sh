#!/usr/bin/env bash
# Benchmark 6 (memory): 1,000 finished operations with 100 log lines each, in Hoist's live list.
# The in-process driver measures the heap used after full GCs, creates the operations in batches
# (at most HOIST_MAX_CONCURRENT run at once), sends each 100 log reports and a failed report, waits
# until all are "error", lets the registry write them to its database, and measures again.
# Writes $PARTS/memory.json.
#
# Env: MEMORY_OPS (default 1000), MEMORY_LOGS (default 100).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
install_cleanup

OPS=${MEMORY_OPS:-1000}
LOGS=${MEMORY_LOGS:-100}
scratch_dir data
start_driver memory "$data" MAX_PROGRESS_ENTRIES="$LOGS"
log "memory: $OPS operations x $LOGS log lines"
cpu0=$(cpu_of "$DRIVER_PID")
curl -fsS -X POST "$CONTROL_URL/bench/memory?ops=$OPS&logs=$LOGS" -o "$OUT/memory-raw.json" || die "memory run failed"
cpu1=$(cpu_of "$DRIVER_PID")
live=$(curl -fs "$HOIST_URL/api/llm/progress" | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["operations"]))')
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); d.update(live_operations=int(sys.argv[2]), jvm_cpu_s=float(sys.argv[4])-float(sys.argv[3])); print(json.dumps(d))' \
  "$OUT/memory-raw.json" "$live" "$cpu0" "$cpu1" >"$PARTS/memory.json"
log "memory: $(cat "$PARTS/memory.json")"
