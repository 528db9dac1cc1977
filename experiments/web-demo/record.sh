#!/bin/bash
# Records the web-demo traces: the server (server.py) under strace while client.mjs drives it, once per condition.
#   normal  keep-alive clients, ordinary mixed requests            (N_NORMAL requests)
#   cpu     the same, with a `stress-ng --cpu 2` neighbour           (N_NOVEL)
#   io      the same, with verbose request logging to disk (--log)   (N_NOVEL)
#   socket  the same, but `Connection: close` on every request       (N_NOVEL)
# Only the server is traced (strace -f -ttt -T -yy -s 16 on the server command); client and stress-ng run beside it.
# Each strace file is converted to the project's JSONL (paired calls) and gzipped into OUT (default data/web-demo).
# SETS (default "normal cpu io socket") picks which sets to record.
# Usage: experiments/web-demo/record.sh [OUT]   (from the repository root, after `npx tsc`; needs strace, stress-ng)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/data/web-demo}
cli=${CLI:-$root/dist/cli/main.js}
N_NORMAL=${N_NORMAL:-3000}
N_NOVEL=${N_NOVEL:-600}
CONNS=${CONNS:-4}
PORT=${PORT:-18080}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
"$here/setup-data.sh" "$work/data"

record() { # name mode requests seed [server args...]
  local name=$1 mode=$2 n=$3 seed=$4; shift 4
  strace -f -ttt -T -yy -s 16 -o "$work/$name.strace" /usr/bin/python3 "$here/server.py" "$PORT" "$work/data" "$@" > "$work/$name.server.out" &
  local spid=$!
  for _ in $(seq 100); do grep -q listening "$work/$name.server.out" 2>/dev/null && break; sleep 0.1; done
  node "$here/client.mjs" "$PORT" "$n" "$CONNS" "$mode" "$seed" > "$out/$name.client.json"
  kill -TERM "$(pgrep -P "$spid")"; wait "$spid" || true # the server, strace's child
  node "$cli" convert "$work/$name.strace" -o "$work/$name.jsonl"
  gzip -9 -n -c "$work/$name.jsonl" > "$out/$name.jsonl.gz"
  echo "$name: $(wc -l < "$work/$name.strace") strace lines, $(stat -c %s "$out/$name.jsonl.gz") bytes gzipped; $(cat "$out/$name.client.json")"
}

SETS=${SETS:-normal cpu io socket}
for set in $SETS; do
  case $set in
    normal) record normal keep-alive "$N_NORMAL" 1 ;;
    cpu)
      stress-ng --cpu 2 --timeout 600s --quiet & stress=$!
      sleep 1
      record cpu keep-alive "$N_NOVEL" 2
      kill "$stress"; wait "$stress" || true ;;
    io) record io keep-alive "$N_NOVEL" 3 --log "$work/requests.log" ;;
    socket) record socket close "$N_NOVEL" 4 ;;
    *) echo "unknown set $set" >&2; exit 2 ;;
  esac
done
