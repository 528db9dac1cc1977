#!/bin/bash
# Helpers for the MySQL experiment (sourced by run.sh): a private MariaDB server under $MYSQL_BASE (default
# /tmp/sa-mysql) with its own datadir, socket and pid file — never the system service, no TCP port.
#   mysql_init                  creates the datadir (once) and the sbtest database
#   mysql_start <pool-size>     starts mariadbd with that innodb_buffer_pool_size (e.g. 256M, or 6M: InnoDB's minimum with 16 KiB pages); waits for the socket
#   mysql_stop                  stops it (SIGTERM, waits for the pid to go)
#   mysql_pid                   prints the server's pid
#   sb <args…>                  sysbench oltp_read_write against the private server
MYSQL_BASE=${MYSQL_BASE:-/tmp/sa-mysql}
MYSQL_DATA=$MYSQL_BASE/data
MYSQL_SOCK=$MYSQL_BASE/mysqld.sock
MYSQL_PIDFILE=$MYSQL_BASE/mysqld.pid
MYSQL_LOG=$MYSQL_BASE/error.log

mysql_pid() { cat "$MYSQL_PIDFILE" 2>/dev/null; }

mysql_running() { local p; p=$(mysql_pid) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

mysql_stop() {
  local p
  p=$(mysql_pid) || return 0
  [ -n "$p" ] || return 0
  if kill -0 "$p" 2>/dev/null; then
    kill -TERM "$p"
    for _ in $(seq 1 120); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$p" 2>/dev/null; then echo "mariadbd $p did not stop in 60 s; killing it" >&2; kill -KILL "$p"; fi
  fi
  rm -f "$MYSQL_PIDFILE"
}

mysql_start() {
  local pool=$1
  mysql_stop
  mkdir -p "$MYSQL_BASE"
  # --user=root: we run as root and the datadir belongs to root; --skip-networking: socket only.
  mariadbd --no-defaults --user=root --datadir="$MYSQL_DATA" --socket="$MYSQL_SOCK" --pid-file="$MYSQL_PIDFILE" \
    --skip-networking --log-error="$MYSQL_LOG" --innodb-buffer-pool-size="$pool" --innodb-log-file-size=64M \
    --max-connections=200 --skip-name-resolve --innodb-buffer-pool-dump-at-shutdown=0 \
    --innodb-buffer-pool-load-at-startup=0 >/dev/null 2>&1 &
  local p=$!
  for _ in $(seq 1 120); do
    kill -0 "$p" 2>/dev/null || break
    if [ -S "$MYSQL_SOCK" ] && mariadb-admin --no-defaults --socket="$MYSQL_SOCK" -uroot ping >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "mariadbd did not start; see $MYSQL_LOG:" >&2
  tail -20 "$MYSQL_LOG" >&2
  return 1
}

mysql_init() {
  if [ ! -d "$MYSQL_DATA/mysql" ]; then
    mkdir -p "$MYSQL_DATA"
    mariadb-install-db --no-defaults --user=root --datadir="$MYSQL_DATA" --auth-root-authentication-method=normal \
      --skip-test-db >"$MYSQL_BASE/install.log" 2>&1 || { tail -20 "$MYSQL_BASE/install.log" >&2; return 1; }
  fi
}

mysql_sql() { mariadb --no-defaults --socket="$MYSQL_SOCK" -uroot -e "$1"; }

sb() {
  sysbench oltp_read_write --db-driver=mysql --mysql-socket="$MYSQL_SOCK" --mysql-user=root --mysql-db=sbtest \
    --tables=1 --table-size="${TABLE_ROWS:-200000}" "$@"
}
