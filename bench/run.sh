#!/usr/bin/env bash
# Hoist's benchmark suite, one command:
#
#   bench/run.sh              full sizes (~10-15 min on 2 cores)
#   QUICK=1 bench/run.sh      small sizes (~3 min), to check that everything works
#
# Runs every benchmark against peers measured side by side in the same run, prints the results table,
# writes bench/results/latest.json, and regenerates docs/performance.md with its charts
# (docs/performance/*.png). Raw logs go to target/bench/.
#
#   1. download   Hoist vs curl vs aria2c -x8 -s8, 2 GiB from Debian's nginx on loopback  (download.sh)
#   2. load       Hoist's load stage vs `cat file > /dev/null`, 4 GiB, page cache warm and cold (load.sh)
#   3. fan-out    10,000 WebSocket subscribers, 100 operations updating at 10 Hz            (fanout.sh)
#   4. REST       GET /api/llm/progress/{id} vs a constant-JSON Vert.x route, with wrk      (rest.sh)
#   5. overhead   the download with progress every 200 ms vs every 10 s                     (download.sh)
#   6. memory     1,000 finished operations x 100 log lines                                 (memory.sh)
#
# Env: HOIST_JAR (default target/hoist.jar, built if missing; BUILD=1 rebuilds), BENCHES (a subset,
# e.g. "download rest"), and each script's sizes (see the top of each). Needs nginx, aria2, wrk,
# util-linux (fincore) and python3-matplotlib from Debian, Node.js with npm (the `ws` package is
# installed into bench/node_modules), a JDK 17 and Maven; missing Debian packages are installed
# when running as root.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
install_cleanup
cd "$REPO_DIR"

if [ "${QUICK:-0}" = 1 ]; then
  : "${DL_SIZE:=$((256 << 20))}" "${DL_RUNS:=1}" "${DL_WARMUPS:=1}" "${LOAD_SIZE:=$((512 << 20))}" "${LOAD_RUNS:=1}"
  : "${FANOUT_CONNECTIONS:=1000}" "${FANOUT_LIVE:=10}" "${FANOUT_SECONDS:=5}"
  : "${REST_SECONDS:=3}" "${REST_ROUNDS:=1}" "${REST_WARMUP_SECONDS:=2}" "${MEMORY_OPS:=200}" "${OVERHEAD_PAIRS:=2}"
  export OVERHEAD_PAIRS DL_SIZE DL_RUNS DL_WARMUPS LOAD_SIZE LOAD_RUNS FANOUT_CONNECTIONS FANOUT_LIVE FANOUT_SECONDS REST_SECONDS REST_ROUNDS REST_WARMUP_SECONDS MEMORY_OPS
fi
BENCHES=${BENCHES:-download load fanout rest memory}

# ---------------------------------------------------------------- tools
need_debian=()
for t in nginx:nginx-light aria2c:aria2 wrk:wrk fincore:util-linux; do
  command -v "${t%%:*}" >/dev/null || need_debian+=("${t#*:}")
done
REPORT_PY=""
for p in "$PY" /usr/bin/python3; do
  if "$p" -c 'import matplotlib' 2>/dev/null; then REPORT_PY=$p; break; fi
done
[ -n "$REPORT_PY" ] || need_debian+=(python3-matplotlib)
if [ ${#need_debian[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing Debian packages: ${need_debian[*]} (apt-get install them)"
  log "installing ${need_debian[*]} from Debian's packages"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_debian[@]}" >"$OUT/apt.log" 2>&1 \
    || { apt-get update -qq >>"$OUT/apt.log" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_debian[@]}" >>"$OUT/apt.log" 2>&1; } \
    || die "apt-get install failed: see $OUT/apt.log"
  [ -n "$REPORT_PY" ] || REPORT_PY=/usr/bin/python3
fi
for t in java javac node npm curl; do command -v "$t" >/dev/null || die "$t is required"; done
if [ ! -f "$BENCH_DIR/node_modules/ws/package.json" ]; then
  log "installing the ws package into bench/node_modules"
  npm install --prefix "$BENCH_DIR" --no-audit --no-fund --no-save ws@8 >"$OUT/npm.log" 2>&1 \
    || die "npm install ws@8 failed: see $OUT/npm.log"
fi
if [ ! -f "$HOIST_JAR" ] || [ "${BUILD:-0}" = 1 ]; then
  log "building $HOIST_JAR"
  (cd "$REPO_DIR" && mvn -B -q -DskipTests package) >"$OUT/build.log" 2>&1 || die "build failed: see $OUT/build.log"
fi

# ---------------------------------------------------------------- the machine, and how busy it is
rm -f "$PARTS"/*
busy_pct() { # CPU busy % of the whole machine over 2 s (everything, not only us)
  local a b
  a=($(head -1 /proc/stat)); sleep 2; b=($(head -1 /proc/stat))
  local idle=$(((b[4] + b[5]) - (a[4] + a[5]))) total=0 i
  for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
  echo $((total > 0 ? 100 * (total - idle) / total : 0))
}
BUSY_BEFORE=$(busy_pct)
[ "$BUSY_BEFORE" -lt 25 ] || log "WARNING: the machine is ${BUSY_BEFORE}% busy before the run (other processes): results will be noisy"
"$PY" - "$PARTS/machine.json" "$HOIST_JAR" "$BUSY_BEFORE" <<'EOF'
import json, os, platform, subprocess, sys
def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20).stdout.strip() \
            or subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20).stderr.strip()
    except Exception as e:
        return f"? ({e})"
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = next((int(l.split()[1]) * 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
jar = sys.argv[2]
json.dump({
    "cpus": os.cpu_count(), "cpu_model": cpu, "memory_bytes": mem, "kernel": platform.release(),
    "os": sh(". /etc/os-release && echo $PRETTY_NAME"),
    "java": sh("java -version 2>&1 | head -1"), "node": sh("node --version"),
    "nginx": sh("nginx -v 2>&1"), "curl": sh("curl --version | head -1"),
    "aria2c": sh("aria2c --version | head -1"), "wrk": sh("wrk -v 2>&1 | head -1"),
    "ws": json.load(open("bench/node_modules/ws/package.json")).get("version"),
    "hoist_jar": jar, "hoist_jar_mtime": sh(f"date -u -r {jar} +%Y-%m-%dT%H:%M:%SZ"),
    "git_commit": sh("git rev-parse --short HEAD"), "git_dirty": bool(sh("git status --porcelain -- src pom.xml")),
    "busy_pct_before": int(sys.argv[3]), "loadavg_before": open("/proc/loadavg").read().split()[:3],
    "ulimit_nofile_hard": sh("ulimit -Hn"),
}, open(sys.argv[1], "w"), indent=1)
EOF

# ---------------------------------------------------------------- the benchmarks
t0=$(date +%s)
for b in $BENCHES; do
  [ -x "$BENCH_DIR/$b.sh" ] || die "no benchmark '$b' (bench/$b.sh)"
  log "=== $b"
  s=$(date +%s)
  # Its own process group, so that stopping this script stops everything the benchmark started.
  setsid "$BENCH_DIR/$b.sh" 2> >(tee "$OUT/$b.log" >&2) &
  BENCH_CHILD=$!
  rc=0
  wait "$BENCH_CHILD" || rc=$?
  BENCH_CHILD=""
  if [ "$rc" != 0 ]; then
    echo "bench/$b.sh failed (exit code $rc); see target/bench/$b.log" >"$PARTS/$b.error"
    log "$b FAILED; going on with the others"
  fi
  echo "$b $(($(date +%s) - s)) $(cut -d' ' -f1 /proc/loadavg)" >>"$PARTS/durations.txt"
done
log "all benchmarks ran in $(($(date +%s) - t0)) s"

# ---------------------------------------------------------------- report
"$PY" - "$PARTS/machine.json" "$PARTS/durations.txt" "$(busy_pct)" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
m["durations_s"] = {l.split()[0]: int(l.split()[1]) for l in open(sys.argv[2])}
m["loadavg_after_each"] = {l.split()[0]: float(l.split()[2]) for l in open(sys.argv[2])}
m["busy_pct_after"] = int(sys.argv[3])
json.dump(m, open(sys.argv[1], "w"), indent=1)
EOF
cmd="bench/run.sh"
[ "${QUICK:-0}" = 1 ] && cmd="QUICK=1 bench/run.sh"
"$REPORT_PY" "$LIB/report.py" --parts "$PARTS" --json "$BENCH_DIR/results/latest.json" \
  --doc "$REPO_DIR/docs/performance.md" --charts "$REPO_DIR/docs/performance" --command "$cmd"
