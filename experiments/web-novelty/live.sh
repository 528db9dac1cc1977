#!/bin/bash
# Live detection of the CPU novelty (issue 7's check: `watch` alerts on a CPU-stress novelty while it happens, from a
# live capture). Uses run.sh's setup (MariaDB, certificate, document root; run `run.sh` with STEPS="install setup"
# first on a fresh machine) and the committed sample:
#   1. trains the demo's `lstm-lat` model (LSTM predicting name + latency bucket; fields without pid/tid) on
#      data/web-novelty/normal.jsonl.gz, unless $OUT/live/model exists;
#   2. starts Apache (the normal condition) under `syscall-anomaly watch --perf -- setsid apache2 …`: perf streams
#      into watch (`perf record -o - | perf script`), which segments requests and scores them as events arrive;
#   3. drives it with wrk as run.sh does (64 connections, pace.lua) in phases: warm-up, normal, cpu (stress-ng
#      --matrix 0 on every core, started with the phase and stopped after it), normal again;
#   4. stamps every line watch prints with the wall-clock time it arrived (live-tally.mjs stamp) and writes, per
#      phase and per 5-second slot, finished requests, novel ones and alerts (live-tally.mjs report → LIVE.md).
# Usage (root, from the repository root, CLI built): experiments/web-novelty/live.sh   (about 3 minutes)
# PHASE seconds per phase (default 30); OUT as run.sh; LIVE_MODELS=ensemble watches with the earlier demo ensemble instead
# (lstm-lat + the n-gram predicting name + size bucket, `watch --model a --model b`) and writes LIVE-ensemble.md;
# LIVE_MODELS=timing with the demo's ensemble now (the n-gram predicting name + size bucket + the timing model) and
# writes LIVE-timing-shape<n>.md, n = SHAPE_MIN, the timing model's `--shape-min` (default 20, the kind's default: a
# Gaussian per call shape; 0: one Gaussian, as the offline demo); HISTORY=k: the timing model alone, each request
# scored with its connection's last k (`--history k`), → LIVE-timing-shape<n>-history<k>.md. WARM_UP=n: `watch --warm-up n --warm-up-skip
# $WARM_UP_SKIP` (default 1000: Apache's start-up and wrk's first connections are left out, then n requests set the
# thresholds: a live baseline, inside the warm-up phase, which lasts WARMUP_SECONDS, default 15, 30 with WARM_UP) and
# "-warmup<n>" in the report's name; WARM_UP_QUANTILE=q adds `--warm-up-quantile q` and "-q<q>".
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=run.sh
source "$here/run.sh"
PHASE=${PHASE:-30}
PERF_BUFFER=${PERF_BUFFER:-256}   # watch --perf-buffer: ring-buffer pages per CPU (32 lost 5 % of the events here)
LIVE_MODELS=${LIVE_MODELS:-lstm-lat}   # lstm-lat, ensemble or timing
live=$OUT/live
mkdir -p "$live"
model=$live/model
if [ "$LIVE_MODELS" != timing ] && [ ! -f "$model/manifest.json" ]; then
  log "live: training lstm-lat on the committed normal sample → $model"
  node "$CLI" train --model lstm --predict name,lat --fields name,phase,dt,proc,ret --segment request \
    --train "$root/data/web-novelty/normal.jsonl.gz" -o "$model" 2> "$live/train.log"
fi
models=(--model "$model")
report=LIVE.md
if [ "$LIVE_MODELS" = ensemble ]; then
  if [ ! -f "$live/model-ngram-size/manifest.json" ]; then
    log "live: training ngram-size on the committed normal sample → $live/model-ngram-size"
    node "$CLI" train --model ngram --predict name,size --segment request \
      --train "$root/data/web-novelty/normal.jsonl.gz" -o "$live/model-ngram-size" 2> "$live/train-ngram-size.log"
  fi
  models+=(--model "$live/model-ngram-size")
  report=LIVE-ensemble.md
elif [ "$LIVE_MODELS" = timing ]; then
  timing=timing-shape${SHAPE_MIN:-20}
  # with the connection's history: the timing model alone (its live figures without the n-gram)
  if [ -n "${HISTORY:-}" ]; then timing=$timing-history$HISTORY; members=("$timing"); else members=(ngram-size "$timing"); fi
  for m in "${members[@]}"; do
    if [ ! -f "$live/model-$m/manifest.json" ]; then
      log "live: training $m on the committed normal sample → $live/model-$m"
      if [ "$m" = "$timing" ]; then args=(--model timing --shape-min "${SHAPE_MIN:-20}" --history "${HISTORY:-1}"); else args=(--model ngram --predict name,size); fi
      node "$CLI" train "${args[@]}" --segment request --train "$root/data/web-novelty/normal.jsonl.gz" -o "$live/model-$m" 2> "$live/train-$m.log"
    fi
  done
  models=()
  for m in "${members[@]}"; do models+=(--model "$live/model-$m"); done
  report=LIVE-$timing.md
elif [ "$LIVE_MODELS" != lstm-lat ]; then
  log "live: LIVE_MODELS must be lstm-lat, ensemble or timing, got '$LIVE_MODELS'"; exit 2
fi
if [ -n "${WARM_UP:-}" ]; then
  models+=(--warm-up "$WARM_UP" --warm-up-skip "${WARM_UP_SKIP:-1000}")
  report=${report%.md}-warmup$WARM_UP.md
  if [ -n "${WARM_UP_QUANTILE:-}" ]; then
    models+=(--warm-up-quantile "$WARM_UP_QUANTILE")
    report=${report%.md}-q$WARM_UP_QUANTILE.md
  fi
  WARMUP_SECONDS=${WARMUP_SECONDS:-30}
fi
WARMUP_SECONDS=${WARMUP_SECONDS:-15}
mysql_running || mysql_start 64M
apache_stop
apache_conf normal
url=$(url_of normal)
log "live: apache2 under watch --perf"
node "$CLI" watch "${models[@]}" --perf --perf-buffer "$PERF_BUFFER" -- setsid /usr/sbin/apache2 -f "$WORK/httpd-normal.conf" -DFOREGROUND \
  2> "$live/watch.err" | node "$here/live-tally.mjs" stamp > "$live/watch.tsv" &
watcher=$!
for _ in $(seq 1 240); do curl -skf -o /dev/null "$url/index.php?id=1" && break; sleep 0.5; done
curl -skf -o /dev/null "$url/index.php?id=1" || { log "live: apache did not answer"; cat "$live/watch.err" >&2; exit 1; }
: > "$live/phases.tsv"
phase() { # name seconds
  local t0 t1
  t0=$(date +%s%3N)
  WRK_SEED=$RANDOM wrk -t"$WRK_THREADS" -c"$CONNS" -d"$2s" --timeout 10s -s "$here/pace.lua" "$url" > "$live/$1.wrk.txt"
  t1=$(date +%s%3N)
  printf '%s\t%s\t%s\n' "$1" "$t0" "$t1" >> "$live/phases.tsv"
  log "live: phase $1: $(tail -1 "$live/$1.wrk.txt")"
}
phase warmup "$WARMUP_SECONDS"
phase normal "$PHASE"
stress-ng --matrix 0 --timeout 3600s --quiet & stress=$!
phase cpu "$PHASE"
kill "$stress"; wait "$stress" || true
phase after "$PHASE"
apache_stop
wait "$watcher" || { log "live: watch failed"; tail "$live/watch.err" >&2; exit 1; }
mysql_stop
tail -1 "$live/watch.err" >&2
node "$here/live-tally.mjs" report "$live/watch.tsv" "$live/phases.tsv" "$live/watch.err" > "$here/$report"
log "live: wrote $here/$report"
