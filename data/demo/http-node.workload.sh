#!/bin/bash
# The workload recorded in data/demo/http-node/: a tiny Node.js HTTP server on 127.0.0.1:8765 answers three GET
# requests sent by bash itself over /dev/tcp (no curl: its start-up would swamp the trace), then gets SIGTERM.
# The server says "ready" on its stdout once it listens, so nothing polls.
coproc SRV { exec node -e "require('http').createServer((q,s)=>{s.end('hello '+q.url+'\n')}).listen(8765,'127.0.0.1',()=>console.log('ready'))"; }
read -r ready <&"${SRV[0]}"
for path in / /status /missing; do
  exec 3<>/dev/tcp/127.0.0.1/8765
  printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$path" >&3
  IFS= read -r status <&3   # the status line only; closing with the rest unread is fine
  exec 3<&-
done
kill "$SRV_PID"
wait "$SRV_PID"
exit 0
