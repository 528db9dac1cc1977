#!/bin/bash
# One measured workload; prints "RESULT <value> <unit> <syscalls per op>" on stderr, measured by the workload itself
# (so perf's start-up, teardown and conversion are not counted, only the slowdown of the traced program).
#   dd        512-byte read+write pairs from /dev/zero to /dev/null: 2 syscalls per block
#   stressget stress-ng --get: a mix of get*/uname/times/... calls, bogo ops/s as stress-ng reports them
#   forkexec  sh starting /bin/true repeatedly: clone, execve, mmap, openat… (~100 syscalls per start)
set -euo pipefail
case "$1" in
  dd)
    n=${DD_BLOCKS:-2000000}
    line=$(dd if=/dev/zero of=/dev/null bs=512 count="$n" 2>&1 | grep copied)
    secs=$(sed -E 's/.*copied, ([0-9.e+-]+) s.*/\1/' <<<"$line")
    awk -v n="$n" -v s="$secs" 'BEGIN { printf "RESULT %.0f syscalls/s\n", 2 * n / s }' >&2
    ;;
  stressget)
    out=$(stress-ng --get 1 --timeout "${STRESS_S:-5}" --metrics-brief 2>&1)
    # "stress-ng: info:  [pid] get   12345   5.00   1.0   3.9   2469.0   2551.23" (last two: bogo ops/s real, usr+sys)
    awk '$4 == "get" { printf "RESULT %s bogo-ops/s\n", $(NF-1) }' <<<"$out" >&2
    ;;
  forkexec)
    n=${FORK_N:-1000}
    t0=$(date +%s.%N)
    i=0; while [ $i -lt "$n" ]; do /bin/true; i=$((i + 1)); done
    t1=$(date +%s.%N)
    awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "RESULT %.1f starts/s\n", n / (b - a) }' >&2
    ;;
  *) echo "usage: workload.sh dd|stressget|forkexec" >&2; exit 2 ;;
esac
