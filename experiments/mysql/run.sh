#!/bin/bash
# The MySQL (MariaDB) experiment: record the server's syscalls under three conditions, several runs each, turn every
# run into a labelled window set and compare classifiers with cross-validation grouped by run.
#
#   normal  sysbench oltp_read_write, $NORMAL_THREADS client threads, buffer pool $POOL (the table fits)
#   cpu     same server pinned with `taskset` to CPU 0, a `stress-ng --cpu 1` neighbour on that CPU, $CPU_THREADS threads
#   memory  server restarted with innodb_buffer_pool_size=$SMALL_POOL (6 MiB, InnoDB's minimum with 16 KiB pages),
#           the table (~$TABLE_ROWS rows, ~65 MB) much larger than it: pages are evicted and re-read all the time
#
# Every run restarts the private server (datadir, socket and pid file under $MYSQL_BASE, default /tmp/sa-mysql; no
# TCP port, never the system service), warms its buffer pool by scanning the table, starts sysbench, waits
# $WARMUP s, then records the whole system for $DURATION s with the project's own recorder
# (`syscall-anomaly record --system --raw-syscalls`). Only mariadbd's syscalls become windows
# (`windows --proc mariadbd`, one stream of all its threads in time order, windows of $WINDOW syscalls).
# Runs are interleaved (normal, cpu, memory, normal, …) so slow drifts of the machine's load hit every condition.
#
# Usage: experiments/mysql/run.sh [OUT]   (OUT default $MYSQL_BASE/out; window sets in OUT/sets, logs in OUT/logs,
#        OUT/runs.tsv, OUT/compare.txt). Needs root (perf system-wide). Installs mariadb-server, sysbench,
#        stress-ng and linux-perf with apt (Debian) when missing, and builds the project when $BUILD lacks it.
# Environment: RUNS (3), DURATION (10 s), WARMUP (3 s), WINDOW (2000), TABLE_ROWS (250000), NORMAL_THREADS (4),
#        CPU_THREADS (32), POOL (256M), SMALL_POOL (6M), KEEP_TRACES (0: delete each raw trace once windowed),
#        BUILD (the compiled project, default dist/), CV (3 folds), CONDITIONS ("normal cpu memory"; with fewer than
#        two, the classification step is skipped).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/mariadb.sh"
OUT=${1:-$MYSQL_BASE/out}
BUILD=${BUILD:-$root/dist}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
WINDOW=${WINDOW:-2000}
export TABLE_ROWS=${TABLE_ROWS:-250000}
NORMAL_THREADS=${NORMAL_THREADS:-4}
CPU_THREADS=${CPU_THREADS:-32}
POOL=${POOL:-256M}
SMALL_POOL=${SMALL_POOL:-6M}
KEEP_TRACES=${KEEP_TRACES:-0}
CV=${CV:-3}
CONDITIONS=${CONDITIONS:-normal cpu memory}
t_start=$(date +%s)
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# --- 1. packages ------------------------------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (system-wide perf recording, a server running as root)" >&2; exit 1; }
need=()
command -v mariadbd >/dev/null || need+=(mariadb-server mariadb-client)
command -v sysbench >/dev/null || need+=(sysbench)
command -v stress-ng >/dev/null || need+=(stress-ng)
command -v perf >/dev/null || need+=(linux-perf)
command -v flock >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  flock /tmp/apt.lock sh -c "apt-get install -y --no-install-recommends ${need[*]} || (apt-get update && apt-get install -y --no-install-recommends ${need[*]})"
fi

# --- 2. the project ---------------------------------------------------------------------------------------------
if [ ! -f "$BUILD/cli/main.js" ]; then
  log "building the project into $BUILD"
  (cd "$root" && { [ -d node_modules ] || npm ci; } && npx tsc -p tsconfig.json --outDir "$BUILD")
fi
cli() { node "$BUILD/cli/main.js" "$@"; }

# --- 3. server and table ----------------------------------------------------------------------------------------
stress_pid=''
sb_pid=''
cleanup() {
  [ -n "$sb_pid" ] && kill "$sb_pid" 2>/dev/null || true
  [ -n "$stress_pid" ] && kill "$stress_pid" 2>/dev/null || true
  mysql_stop
}
trap cleanup EXIT
mkdir -p "$OUT/sets" "$OUT/logs" "$MYSQL_BASE/traces"
rm -f "$OUT"/sets/*.saws
mysql_init
mysql_start "$POOL"
mysql_sql "CREATE DATABASE IF NOT EXISTS sbtest"
rows=$(mariadb --no-defaults --socket="$MYSQL_SOCK" -uroot -N -e "SELECT COUNT(*) FROM sbtest.sbtest1" 2>/dev/null || echo 0)
if [ "$rows" != "$TABLE_ROWS" ]; then
  log "preparing sbtest1 with $TABLE_ROWS rows"
  sb cleanup >/dev/null 2>&1 || true
  sb prepare >"$OUT/logs/prepare.log" 2>&1
fi
log "table: $(mariadb --no-defaults --socket="$MYSQL_SOCK" -uroot -N -e "SELECT CONCAT(table_rows, ' rows, ', ROUND((data_length + index_length) / 1048576), ' MB') FROM information_schema.tables WHERE table_schema = 'sbtest' AND table_name = 'sbtest1'")"

# --- 4. recordings ----------------------------------------------------------------------------------------------
printf 'condition\trun\tstarted\tloadavg_1m_before\tloadavg_1m_after\tsysbench_tps\tsysbench_qps\trecorded_events\tlost\tmariadbd_events\twindows\trecord_s\tconvert_s\n' >"$OUT/runs.tsv"
record_run() {
  local cond=$1 run=$2 threads=$NORMAL_THREADS pool=$POOL name="$1-$2"
  [ "$cond" = cpu ] && threads=$CPU_THREADS
  [ "$cond" = memory ] && pool=$SMALL_POOL
  mysql_start "$pool"
  # warm the buffer pool: the clustered index, then the secondary index
  mysql_sql "SELECT SUM(LENGTH(c)) FROM sbtest.sbtest1 FORCE INDEX (PRIMARY); SELECT SUM(k) FROM sbtest.sbtest1 FORCE INDEX (k_1)" >/dev/null
  if [ "$cond" = cpu ]; then
    taskset -a -p -c 0 "$(mysql_pid)" >/dev/null
    stress-ng --cpu 1 --taskset 0 --timeout "$((WARMUP + DURATION + 5))s" >/dev/null 2>&1 &
    stress_pid=$!
  fi
  sb --threads="$threads" --time="$((WARMUP + DURATION + 2))" run >"$OUT/logs/$name.sysbench.txt" 2>&1 &
  sb_pid=$!
  sleep "$WARMUP"
  local started load0 load1
  started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  load0=$(cut -d' ' -f1 /proc/loadavg)
  rm -rf "$MYSQL_BASE/traces/$name"
  cli record --system --raw-syscalls --duration "$DURATION" -o "$MYSQL_BASE/traces/$name" 2>"$OUT/logs/$name.record.txt"
  load1=$(cut -d' ' -f1 /proc/loadavg)
  wait "$sb_pid" || true; sb_pid=''
  if [ -n "$stress_pid" ]; then wait "$stress_pid" || true; stress_pid=''; fi
  cli windows "$MYSQL_BASE/traces/$name/ctf" --label "$cond" --group "$name" --proc mariadbd --size "$WINDOW" \
    -o "$OUT/sets/$name.saws" --json >"$OUT/logs/$name.windows.json"
  [ "$KEEP_TRACES" = 1 ] || rm -rf "$MYSQL_BASE/traces/$name"
  local tps qps rec lost ev win rs cs
  tps=$(awk '/transactions:/ { gsub(/[(]/, "", $3); print $3 }' "$OUT/logs/$name.sysbench.txt")
  qps=$(awk '/queries:/ && /per sec/ { gsub(/[(]/, "", $3); print $3 }' "$OUT/logs/$name.sysbench.txt")
  read -r rec rs lost cs < <(sed -nE 's/^recorded ([0-9,]+) events in ([0-9.]+) s \(([0-9]+) lost\), converted in ([0-9.]+) s.*/\1 \2 \3 \4/p' "$OUT/logs/$name.record.txt" | tr -d ,) || true
  ev=$(node -e 'const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(s.stats.events, s.stats.windows)' "$OUT/logs/$name.windows.json")
  win=${ev#* }; ev=${ev% *}
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cond" "$run" "$started" "$load0" "$load1" "$tps" "$qps" "$rec" "$lost" "$ev" "$win" "$rs" "$cs" >>"$OUT/runs.tsv"
  log "$name: $tps tps, $rec events recorded ($lost lost), $ev mariadbd syscalls → $win windows; load $load0 → $load1"
}
for run in $(seq 1 "$RUNS"); do
  for cond in $CONDITIONS; do record_run "$cond" "$run"; done
done
mysql_stop
if [ "$(wc -w <<<"$CONDITIONS")" -lt 2 ]; then log "one condition: no classification"; exit 0; fi

# --- 5. classification ------------------------------------------------------------------------------------------
log "classify --compare (grouped $CV-fold CV by run)"
cli classify --train "$OUT"/sets/*.saws --compare --cv "$CV" --fisher 10 | tee "$OUT/compare.txt"
cli classify --train "$OUT"/sets/*.saws --compare --cv "$CV" --fisher 10 --json >"$OUT/compare.json"
cli classify --train "$OUT"/sets/*.saws --one-class --normal-label normal --normalize minmax --cv "$CV" | tee "$OUT/one-class.txt"
t_end=$(date +%s)
{
  echo "machine: $(nproc) CPUs, $(uname -r), $(mariadbd --version | sed 's/^.*Ver //'), $(sysbench --version), $(perf --version)"
  echo "finished: $(date -u +%Y-%m-%dT%H:%M:%SZ); took $((t_end - t_start)) s; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/machine.txt"
log "done in $((t_end - t_start)) s; window sets in $OUT/sets"
