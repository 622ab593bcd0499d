# Shared helpers of the benchmark scripts (sourced, not run). Every process started through
# `bg_start` is recorded and ended by `cleanup`, which the scripts run on EXIT/INT/TERM.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
LIB="$BENCH_DIR/lib"
OUT="${BENCH_OUT:-$REPO_DIR/target/bench}"          # raw logs and per-benchmark JSON parts
PARTS="$OUT/parts"
FIXTURES="${BENCH_FIXTURES:-/var/tmp/hoist-bench-fixtures}"   # generated models, kept between runs (disk)
SCRATCH_ROOT="${BENCH_SCRATCH:-/dev/shm}"                    # tmpfs: download destinations
HOIST_JAR="${HOIST_JAR:-$REPO_DIR/target/hoist.jar}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT" "$PARTS" "$FIXTURES"

BG_PIDS=()
TMP_DIRS=()

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# scratch_dir VAR [ROOT]: a fresh temporary directory under ROOT (default $SCRATCH_ROOT) in $VAR,
# removed by cleanup. (Not $(...): the list of directories to remove must be kept in this shell.)
scratch_dir() {
  local d
  d=$(mktemp -d "${2:-$SCRATCH_ROOT}/hoist-bench.XXXXXX")
  TMP_DIRS+=("$d")
  printf -v "$1" '%s' "$d"
}

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# bg_start LOGFILE CMD...: starts CMD in the background, remembers its pid in $BG_PID.
bg_start() {
  local logfile=$1; shift
  "$@" >"$logfile" 2>&1 &
  BG_PID=$!
  BG_PIDS+=("$BG_PID")
}

# Ends one process we started: TERM, then KILL after 10 s.
stop_pid() {
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# On exit, or on INT/TERM (which then exit): every process we started is stopped, every scratch
# directory removed.
install_cleanup() {
  trap cleanup EXIT
  trap 'exit 143' INT TERM
}

cleanup() {
  local pid d
  # A benchmark script run by run.sh is its own process group: end it all, its trap cleans up.
  if [ -n "${BENCH_CHILD:-}" ]; then
    kill -TERM -- "-$BENCH_CHILD" 2>/dev/null || true
    stop_pid "$BENCH_CHILD"
    BENCH_CHILD=""
  fi
  for pid in "${BG_PIDS[@]}"; do
    stop_pid "$pid"
  done
  BG_PIDS=()
  for d in "${TMP_DIRS[@]}"; do
    rm -rf "$d"
  done
  TMP_DIRS=()
}

# wait_http URL SECONDS: until URL answers 2xx.
wait_http() {
  local url=$1 secs=${2:-60} i
  for i in $(seq 1 $((secs * 5))); do
    curl -fs -o /dev/null "$url" && return 0
    sleep 0.2
  done
  return 1
}

# CPU seconds (user + system) a process has used so far.
cpu_of() {
  awk -v tck="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / tck }' "/proc/$1/stat"
}

# Generated model FILE of SIZE bytes (cached with its sha256); prints the sha256.
fixture_model() {
  local file=$1 size=$2
  if [ ! -f "$file.sha256" ] || [ "$(stat -c %s "$file" 2>/dev/null)" != "$size" ]; then
    log "generating $(basename "$file") ($((size >> 20)) MiB) in $FIXTURES (once; cached)"
  fi
  "$PY" "$LIB/fixtures.py" model "$file" "$size"
}

# start_nginx SITE_DIR: Debian's nginx on a free loopback port; sets NGINX_PORT and NGINX_PID.
start_nginx() {
  local site=$1 prefix
  scratch_dir prefix /tmp
  mkdir -p "$prefix/tmp"
  NGINX_PORT=$(free_port)
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@SITE@|$site|g" -e "s|@PORT@|$NGINX_PORT|g" \
    "$LIB/nginx.conf.in" >"$prefix/nginx.conf"
  bg_start "$OUT/nginx.log" nginx -p "$prefix" -c "$prefix/nginx.conf"
  NGINX_PID=$BG_PID
  wait_http "http://127.0.0.1:$NGINX_PORT/api/" 10 || curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/" \
    || die "nginx did not start (see $OUT/nginx.log, $prefix/error.log)"
}

# start_hoist NAME DATA_DIR [VAR=value...]: java -jar hoist.jar on a free port against the bench hub;
# sets HOIST_PID and HOIST_URL. Extra VAR=value pairs are added to its environment.
start_hoist() {
  local name=$1 data=$2; shift 2
  local port
  port=$(free_port)
  bg_start "$OUT/hoist-$name.log" env \
    HF_ENDPOINT="http://127.0.0.1:${NGINX_PORT:-1}" HOIST_DATA_DIR="$data" HOIST_HTTP_PORT="$port" \
    HOIST_MIRROR_ENABLED=false HOIST_OFFLINE=true HOIST_LOAD_RATE_PER_MINUTE=0 \
    HOIST_MODELS_FILE="$LIB/empty-catalog.json" "$@" \
    java ${HOIST_JAVA_OPTS:-} -jar "$HOIST_JAR"
  HOIST_PID=$BG_PID
  HOIST_URL="http://127.0.0.1:$port"
  wait_http "$HOIST_URL/health" 60 || die "Hoist ($name) did not start: see $OUT/hoist-$name.log"
}

# Drops a file from the page cache if the machine lets us; prints how: "drop_caches", "fadvise" or "none".
drop_file_cache() {
  local file=$1 before after
  sync "$file" 2>/dev/null || sync
  before=$(page_cached_pct "$file")
  echo 1 >/proc/sys/vm/drop_caches 2>/dev/null
  after=$(page_cached_pct "$file")
  if [ "$after" -lt 5 ] && [ "$before" -ge 5 ]; then echo drop_caches; return; fi
  "$PY" -c 'import os,sys; fd=os.open(sys.argv[1],os.O_RDONLY); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED); os.close(fd)' "$file"
  after=$(page_cached_pct "$file")
  if [ "$after" -lt 5 ]; then echo fadvise; else echo none; fi
}

# Percentage of a file's pages in the page cache (fincore, util-linux).
page_cached_pct() {
  fincore -b -n -o RES,SIZE "$1" 2>/dev/null | awk '{ if ($2 > 0) printf "%d\n", 100 * $1 / $2; else print 0 }'
}

# Reads a file once so it is in the page cache.
warm_file() {
  cat "$1" >/dev/null
}

# Compiles bench/java/BenchDriver.java against the jar (once per jar) into $OUT/classes.
build_driver() {
  local classes="$OUT/classes" stamp
  stamp="$(stat -c %Y "$HOIST_JAR") $(stat -c %Y "$BENCH_DIR/java/BenchDriver.java")"
  if [ ! -f "$classes/BenchDriver.class" ] || [ "$(cat "$classes/.stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$classes" && mkdir -p "$classes"
    javac -nowarn -cp "$HOIST_JAR" -d "$classes" "$BENCH_DIR/java/BenchDriver.java" || die "cannot compile BenchDriver"
    echo "$stamp" >"$classes/.stamp"
  fi
}

# start_driver NAME DATA_DIR [VAR=value...]: Hoist in-process with the benchmark's control server
# (bench/java/BenchDriver.java). The hub is a closed port and retries are many and slow, so created
# operations sit in "initializing" until the driver moves them. Sets DRIVER_PID, HOIST_URL, CONTROL_URL.
start_driver() {
  local name=$1 data=$2; shift 2
  local ports="$data/ports" i hp cp
  build_driver
  mkdir -p "$data"
  bg_start "$OUT/driver-$name.log" env \
    HF_ENDPOINT="http://127.0.0.1:1" HOIST_DOWNLOAD_RETRIES=100 HOIST_DOWNLOAD_RETRY_BASE_MS=60000 \
    HOIST_MAX_CONCURRENT=64 HOIST_DATA_DIR="$data" HOIST_MODELS_FILE="$LIB/empty-catalog.json" \
    HOIST_LOAD_RATE_PER_MINUTE=0 "$@" \
    java ${HOIST_JAVA_OPTS:-} -cp "$HOIST_JAR:$OUT/classes" BenchDriver "$ports" "$LIB/driver-config.json"
  DRIVER_PID=$BG_PID
  for i in $(seq 1 300); do
    [ -s "$ports" ] && break
    kill -0 "$DRIVER_PID" 2>/dev/null || die "BenchDriver ($name) exited: see $OUT/driver-$name.log"
    sleep 0.2
  done
  [ -s "$ports" ] || die "BenchDriver ($name) did not start: see $OUT/driver-$name.log"
  read -r hp cp <"$ports"
  HOIST_URL="http://127.0.0.1:$hp"
  CONTROL_URL="http://127.0.0.1:$cp"
}
