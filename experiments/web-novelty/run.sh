#!/bin/bash
# The web-server novelty experiment (issue 5), from a fresh Debian machine to a finished dataset and its tables:
#   install   Debian packages: apache2, mod_php (prefork) with OPcache, php-mysql, MariaDB, wrk, stress-ng, perf
#   setup     a private MariaDB under $WORK/mysql (socket only) with a small shop database (1,000 items in
#             8 categories), a self-signed certificate, the document root (index.php: one query per request)
#   record    one recording per condition with the project's own `record` (perf tracepoints syscalls:*, with
#             arguments) of the Apache process tree only (`record -- apache2 -f <conf> -DFOREGROUND`), while wrk
#             drives it: a warm-up run (not kept), then blocks of traffic, each its own wrk run with fresh
#             connections and a 3 s gap after it; each block is cut out of the converted trace by its wall-clock
#             window (slice.mjs), so every connection of a block is whole in its file; a block during which
#             others used the CPUs (hostcpu.mjs: > HOST_MAX cores outside the experiment, steal included) is
#             recorded again, up to BLOCK_TRIES times
#   sample    copies each condition's `sample` block into data/web-novelty/<condition>.jsonl.gz (the demo's data)
#   evaluate  trains the n-gram and the LSTM on the full recording (normal train blocks) and evaluates every
#             novelty on its valid/test blocks (results.mjs); tables go to RESULTS.md
# Conditions: normal, and six novelties — connection (MaxRequestWorkers 25), cpu (stress-ng --matrix 0 on every
# core beside the server), io (mod_dumpio, LogLevel dumpio:trace7), opcache (OPcache off), socket (KeepAlive Off),
# ssl (plain HTTP instead of HTTPS); and normal2, the control: a second run of the normal configuration, recorded
# last and scored as if it were novel (a model that tells it from normal tells server runs apart, not behaviour).
#
# Usage (root, from the repository root; the CLI built: `npm ci`, or CLI=path/to/cli/main.js):
#   experiments/web-novelty/run.sh                      # every step, every condition
#   STEPS="record sample" CONDITIONS="io ssl" experiments/web-novelty/run.sh
# Live detection of the cpu novelty with `watch --perf` (after install and setup): live.sh beside this script.
# Recordings stay outside the repository, in $OUT (default ~/.cache/syscall-anomaly/web-novelty/<condition>/:
# perf.data, ctf/, <block>.jsonl.gz, phases.tsv, <block>.wrk.json, <block>.host.json, record.log).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
CLI=${CLI:-$root/dist/cli/main.js}
OUT=${OUT:-$HOME/.cache/syscall-anomaly/web-novelty}
WORK=${WORK:-/tmp/sa-webnovelty}
SAMPLE_DIR=${SAMPLE_DIR:-$root/data/web-novelty}
CONDITIONS=${CONDITIONS:-normal connection cpu io opcache socket ssl normal2}
STEPS=${STEPS:-install setup record sample evaluate}
CONNS=${CONNS:-64}             # wrk connections (fixed; > 25 so that MaxRequestWorkers 25 limits them)
WRK_THREADS=${WRK_THREADS:-2}
WARMUP=${WARMUP:-15}           # seconds of warm-up traffic, not kept (prefork children start, OPcache fills)
SAMPLE_NORMAL=${SAMPLE_NORMAL:-30}  # seconds of the committed sample block: normal
SAMPLE_NOVEL=${SAMPLE_NOVEL:-10}    # … and each novelty
TRAIN=${TRAIN:-40}             # normal: seconds of training traffic beside the sample block
BLOCK=${BLOCK:-20}             # seconds of each valid / test block
HOST_MAX=${HOST_MAX:-0.1}      # cores: most CPU that others (processes outside the experiment, hypervisor steal) may use during a block
BLOCK_TRIES=${BLOCK_TRIES:-3}  # … else the block is recorded again, at most this many times in all (hostcpu.mjs)
HTTPS_PORT=${HTTPS_PORT:-18443}
HTTP_PORT=${HTTP_PORT:-18080}
export MYSQL_BASE=$WORK/mysql
# shellcheck source=../mysql/mariadb.sh
source "$root/experiments/mysql/mariadb.sh"

log() { echo "[web-novelty $(date -u +%H:%M:%S)] $*" >&2; }
has_step() { [[ " $STEPS " == *" $1 "* ]]; }

step_install() {
  log "installing Debian packages"
  flock /tmp/apt.lock apt-get update -qq
  flock /tmp/apt.lock env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    apache2 libapache2-mod-php php-mysql mariadb-server mariadb-client wrk stress-ng openssl curl linux-perf >/dev/null
  [ -f "$CLI" ] || { log "building the CLI (npm ci)"; (cd "$root" && npm ci); }
}

step_setup() {
  log "setting up MariaDB, certificate and document root under $WORK"
  mkdir -p "$WORK"/{www,run,logs,ssl}
  chmod 755 "$WORK" "$WORK/www"
  chown www-data:www-data "$WORK/logs" 2>/dev/null || true
  cp "$here/index.php" "$WORK/www/index.php"
  chmod 644 "$WORK/www/index.php"
  [ -f "$WORK/ssl/server.key" ] || openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=localhost \
    -keyout "$WORK/ssl/server.key" -out "$WORK/ssl/server.crt" 2>/dev/null
  mysql_init
  mysql_start 64M
  chmod 755 "$MYSQL_BASE"
  mysql_sql "CREATE DATABASE IF NOT EXISTS shop;
    CREATE TABLE IF NOT EXISTS shop.categories (id INT PRIMARY KEY, name VARCHAR(32) NOT NULL);
    CREATE TABLE IF NOT EXISTS shop.items (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, category INT NOT NULL,
      price DECIMAL(8,2) NOT NULL, stock INT NOT NULL, KEY (category));
    CREATE USER IF NOT EXISTS 'web'@'localhost' IDENTIFIED BY 'web';
    GRANT SELECT ON shop.* TO 'web'@'localhost';"
  if [ "$(mariadb --no-defaults --socket="$MYSQL_SOCK" -uroot -N -e 'SELECT COUNT(*) FROM shop.items')" != 1000 ]; then
    mysql_sql "USE shop; DELETE FROM shop.items; DELETE FROM shop.categories;
      INSERT INTO shop.categories VALUES (1,'books'),(2,'music'),(3,'garden'),(4,'kitchen'),(5,'toys'),(6,'tools'),(7,'games'),(8,'sports');
      INSERT INTO shop.items SELECT seq, CONCAT('item ', seq), 1 + seq % 8, ROUND(1 + (seq * 37 % 9900) / 100, 2), seq * 7 % 50
        FROM seq_1_to_1000;"
  fi
}

# Writes the Apache config of one condition to $WORK/httpd-<condition>.conf.
apache_conf() {
  local cond=$1 mods=/usr/lib/apache2/modules
  local keepalive=On workers=150 opcache=On dumpio='' loglevel=warn listen tls=on
  case $cond in
    connection) workers=25 ;;
    io) loglevel='warn dumpio:trace7'; dumpio=on ;;
    opcache) opcache=Off ;;
    socket) keepalive=Off ;;
    ssl) tls=off ;;
  esac
  listen=$([ $tls = on ] && echo "$HTTPS_PORT" || echo "$HTTP_PORT")
  local start=$(( workers < 70 ? workers : 70 ))
  cat > "$WORK/httpd-$cond.conf" <<EOF
# experiments/web-novelty, condition '$cond' (generated by run.sh)
ServerName localhost
ServerRoot /etc/apache2
PidFile $WORK/run/apache.pid
DefaultRuntimeDir $WORK/run
Mutex file:$WORK/run default
User www-data
Group www-data
ErrorLog $WORK/logs/error-$cond.log
LogLevel $loglevel
LogFormat "%h %l %u %t \"%r\" %>s %b %D" timed
CustomLog $WORK/logs/access-$cond.log timed
LoadModule mpm_prefork_module $mods/mod_mpm_prefork.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule mime_module $mods/mod_mime.so
LoadModule dir_module $mods/mod_dir.so
LoadModule php_module $mods/libphp8.2.so
LoadModule socache_shmcb_module $mods/mod_socache_shmcb.so
LoadModule ssl_module $mods/mod_ssl.so
$([ -n "$dumpio" ] && echo "LoadModule dumpio_module $mods/mod_dumpio.so
DumpIOInput On
DumpIOOutput On")
# prefork: a pool large enough for every wrk connection, started up front and kept (no process churn while traced)
StartServers $start
MinSpareServers 5
MaxSpareServers 150
ServerLimit 150
MaxRequestWorkers $workers
MaxConnectionsPerChild 0
KeepAlive $keepalive
MaxKeepAliveRequests 100
KeepAliveTimeout 5
TypesConfig /etc/mime.types
DocumentRoot $WORK/www
DirectoryIndex index.php
<Directory />
  Require all denied
  AllowOverride None
</Directory>
<Directory $WORK/www>
  Require all granted
</Directory>
<FilesMatch "\\.php\$">
  SetHandler application/x-httpd-php
</FilesMatch>
php_admin_value mysqli.default_socket $MYSQL_SOCK
$([ $opcache = Off ] && echo "php_admin_flag opcache.enable Off")
Listen 127.0.0.1:$listen
$([ $tls = on ] && echo "SSLSessionCache shmcb:$WORK/run/ssl_scache(512000)
SSLEngine on
SSLCertificateFile $WORK/ssl/server.crt
SSLCertificateKeyFile $WORK/ssl/server.key")
EOF
}

url_of() { [ "$1" = ssl ] && echo "http://127.0.0.1:$HTTP_PORT" || echo "https://127.0.0.1:$HTTPS_PORT"; }

# Blocks of one condition: name and seconds.
blocks_of() {
  if [ "$1" = normal ]; then echo "sample:$SAMPLE_NORMAL train:$TRAIN valid:$BLOCK test:$BLOCK"
  else echo "sample:$SAMPLE_NOVEL valid:$BLOCK test:$BLOCK"; fi
}

apache_stop() {
  local p
  p=$(cat "$WORK/run/apache.pid" 2>/dev/null) || return 0
  kill -TERM "$p" 2>/dev/null || return 0
  for _ in $(seq 1 240); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.5; done
  log "apache $p did not stop in 120 s"; return 1
}

record_condition() {
  local cond=$1 dir=$OUT/$1 url stress='' rec
  url=$(url_of "$cond")
  apache_stop
  apache_conf "$cond"
  /usr/sbin/apache2 -f "$WORK/httpd-$cond.conf" -t 2>&1 | grep -v 'Syntax OK' >&2 || true
  rm -rf "$dir"; mkdir -p "$dir"
  cp "$WORK/httpd-$cond.conf" "$dir/httpd.conf"
  rm -f "$WORK/logs/"*"-$cond.log"   # a fresh log per recording (io: mod_dumpio writes 25 MB)
  if [ "$cond" = cpu ]; then stress-ng --matrix 0 --timeout 3600s --quiet & stress=$!; fi
  log "$cond: recording apache2 (prefork, mod_php) with syscalls:* → $dir"
  # setsid: in the foreground, Apache stops its children with killpg(getpgrp()), which would also hit perf, record
  # and this script; in a session of its own it hits only Apache (perf follows it across setsid and forks).
  node "$CLI" record -o "$dir" -- setsid /usr/sbin/apache2 -f "$WORK/httpd-$cond.conf" -DFOREGROUND 2> "$dir/record.log" &
  rec=$!
  for _ in $(seq 1 240); do curl -skf -o /dev/null "$url/index.php?id=1" && break; sleep 0.5; done
  curl -skf -o /dev/null "$url/index.php?id=1" || { log "$cond: apache did not answer"; tail "$dir/record.log" >&2; return 1; }
  log "$cond: warm-up ${WARMUP} s"
  WRK_SEED=0 wrk -t"$WRK_THREADS" -c"$CONNS" -d"${WARMUP}s" --timeout 10s -s "$here/pace.lua" "$url" > "$dir/warmup.wrk.txt"
  sleep 3
  : > "$dir/phases.tsv"
  local b name secs seed=1 t0 t1 try
  for b in $(blocks_of "$cond"); do
    name=${b%%:*}; secs=${b##*:}
    # A block during which something outside the experiment used the CPUs (another job, hypervisor steal) is
    # recorded again, up to BLOCK_TRIES times: the requests of a discarded try lie outside every block's window.
    for try in $(seq 1 "$BLOCK_TRIES"); do
      node "$here/hostcpu.mjs" snapshot > "$dir/.host-a.json"
      t0=$(date +%s%N)
      WRK_SEED=$seed wrk -t"$WRK_THREADS" -c"$CONNS" -d"${secs}s" --timeout 10s -s "$here/pace.lua" "$url" > "$dir/$name.wrk.txt"
      t1=$(date +%s%N)
      node "$here/hostcpu.mjs" snapshot > "$dir/.host-b.json"
      if node "$here/hostcpu.mjs" diff "$dir/.host-a.json" "$dir/.host-b.json" $$ "$HOST_MAX" > "$dir/$name.host.json"; then break; fi
      log "$cond: block $name, try $try: the machine was not quiet: $(cat "$dir/$name.host.json")"
      sleep 3
    done
    rm -f "$dir/.host-a.json" "$dir/.host-b.json"
    printf '%s\t%s\t%s\n' "$name" "$t0" "$t1" >> "$dir/phases.tsv"
    tail -1 "$dir/$name.wrk.txt" > "$dir/$name.wrk.json"
    log "$cond: block $name: $(cat "$dir/$name.wrk.json"); CPUs: $(cat "$dir/$name.host.json")"
    seed=$((seed + 1))
    sleep 3
  done
  cat /proc/loadavg > "$dir/loadavg.txt"
  apache_stop
  wait "$rec" || { log "$cond: record failed"; tail "$dir/record.log" >&2; return 1; }
  [ -z "$stress" ] || { kill "$stress"; wait "$stress" || true; }
  tail -2 "$dir/record.log" | head -1 >&2
  log "$cond: converting to JSONL and cutting blocks"
  node "$CLI" convert "$dir/ctf" -o "$dir/all.jsonl" 2> "$dir/convert.log"
  local outs
  if [ "$cond" = normal ]; then outs="sample=sample train=sample,train valid=valid test=test"
  else outs="sample=sample valid=valid test=test"; fi
  # shellcheck disable=SC2086
  node "$here/slice.mjs" "$dir/all.jsonl" "$dir/phases.tsv" "$dir" $outs
  rm -f "$dir/all.jsonl"
}

step_record() {
  mysql_running || mysql_start 64M
  for cond in $CONDITIONS; do record_condition "$cond"; done
  mysql_stop
}

step_sample() {
  mkdir -p "$SAMPLE_DIR"
  for cond in $CONDITIONS; do
    cp "$OUT/$cond/sample.jsonl.gz" "$SAMPLE_DIR/$cond.jsonl.gz"
    cp "$OUT/$cond/sample.wrk.json" "$SAMPLE_DIR/$cond.wrk.json"
  done
  log "sample: $(du -sh "$SAMPLE_DIR" | cut -f1) in $SAMPLE_DIR"
}

step_evaluate() {
  node "$here/results.mjs" "$CLI" "$OUT" "$here/RESULTS.md"
}

# Sourced (for its functions) it stops here.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  t_start=$(date +%s)
  for s in install setup record sample evaluate; do
    if has_step "$s"; then "step_$s"; fi
  done
  log "done in $(( $(date +%s) - t_start )) s"
fi
