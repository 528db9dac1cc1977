#!/bin/bash
# Measures the throughput of syscall-heavy programs with and without `record`'s perf tracing and writes RESULTS.md
# beside this script. Needs root (or perf_event_paranoid -1), perf, stress-ng (apt-get install stress-ng linux-perf)
# and a build (npm run build; or BUILD=/other/build/dir). Takes about 5 minutes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD:-$root/dist}
command -v stress-ng >/dev/null || { echo "stress-ng missing: apt-get install stress-ng" >&2; exit 1; }
[ -f "$build/trace/record/record.js" ] || (cd "$root" && npm run build)
exec node "$here/overhead.mjs" "$build"
