#!/usr/bin/env bash
# The production topology of compose.yaml, natively (no Docker): PostgreSQL from the Debian packages
# (a cluster of its own in the state folder), `mlflow server` with that PostgreSQL as its backend
# store and a folder for artifacts, and two API processes (`returnrisk serve`) on the same service
# database and registry, each following the champion alias.
#
#   scripts/stack.sh up       start everything (a first model is trained if the registry has no champion)
#   scripts/stack.sh status   what runs, where
#   scripts/stack.sh down     stop everything (the data stay in the state folder; delete it to start afresh)
#
# Settings (environment):
#   RETURNRISK_STACK_DIR      state folder: PostgreSQL's data, MLflow's artifacts, logs, pids (default .stack)
#   RETURNRISK_STACK_DATA     shop history for the first training (default: a demo shop made in the state folder)
#   RETURNRISK_STACK_TRAIN_ARGS  more arguments of that `returnrisk train` (e.g. "--params my.yaml")
#   RETURNRISK_STACK_PG_PORT  PostgreSQL's port (default 55432; it also listens on a socket in the state folder)
#   RETURNRISK_STACK_MLFLOW_PORT  the MLflow server's port (default 5055)
#   RETURNRISK_STACK_API_PORTS    the API processes' ports (default "8001 8002")
#   RETURNRISK_PG_BIN         PostgreSQL's server programs (default: the newest /usr/lib/postgresql/*/bin)
#   RETURNRISK_BIN            folder of the returnrisk and mlflow commands (default: .venv/bin, else $PATH)
# Every RETURNRISK_* setting of the service (keys, RETURNRISK_MODEL_POLL_SECONDS, …) is passed to the API.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${RETURNRISK_STACK_DIR:-$ROOT/.stack}
PG_PORT=${RETURNRISK_STACK_PG_PORT:-55432}
MLFLOW_PORT=${RETURNRISK_STACK_MLFLOW_PORT:-5055}
API_PORTS=${RETURNRISK_STACK_API_PORTS:-"8001 8002"}
if [ -n "${RETURNRISK_BIN:-}" ]; then BIN=$RETURNRISK_BIN
elif [ -x "$ROOT/.venv/bin/returnrisk" ]; then BIN=$ROOT/.venv/bin
else BIN=$(dirname "$(command -v returnrisk)"); fi
PG_BIN=${RETURNRISK_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}

say() { echo "stack: $*" >&2; }
die() { echo "stack: error: $*" >&2; exit 2; }

# PostgreSQL refuses to run as root: then its programs run as the `postgres` user of the Debian package
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

wait_http() {   # wait_http URL SECONDS LOG: until URL answers 200
  local url=$1 seconds=$2 log=$3 i
  for ((i = 0; i < seconds * 2; i++)); do
    if "$BIN/python" -c "import sys, urllib.request as u; u.urlopen(sys.argv[1], timeout=2)" "$url" 2>/dev/null; then
      return 0
    fi
    sleep 0.5
  done
  tail -n 20 "$log" >&2 || true
  die "$url did not answer within ${seconds}s (log: $log)"
}

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

pg_up() {
  [ -x "$PG_BIN/initdb" ] || die "PostgreSQL's server programs are missing ($PG_BIN/initdb): install the Debian package (apt-get install postgresql), or set RETURNRISK_PG_BIN"
  mkdir -p "$STATE/pg" "$STATE/run"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$STATE/pg" "$STATE/run"; fi
  chmod 700 "$STATE/pg"
  if [ ! -f "$STATE/pg/PG_VERSION" ]; then
    say "PostgreSQL: new cluster in $STATE/pg"
    as_pg "$PG_BIN/initdb" -D "$STATE/pg" -U returnrisk --auth=trust -E UTF8 --locale=C.UTF-8 >"$STATE/logs/initdb.log" 2>&1 \
      || { cat "$STATE/logs/initdb.log" >&2; die "initdb failed (log: $STATE/logs/initdb.log)"; }
  fi
  if ! as_pg "$PG_BIN/pg_ctl" -D "$STATE/pg" status >/dev/null 2>&1; then
    touch "$STATE/logs/postgres.log"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$STATE/logs/postgres.log"; fi
    as_pg "$PG_BIN/pg_ctl" -D "$STATE/pg" -l "$STATE/logs/postgres.log" -w -t 60 \
      -o "-p $PG_PORT -k $STATE/run -c listen_addresses=127.0.0.1" start >/dev/null \
      || { tail -n 20 "$STATE/logs/postgres.log" >&2; die "PostgreSQL did not start (port $PG_PORT busy?)"; }
  fi
  for db in returnrisk mlflow; do
    if ! as_pg "$PG_BIN/psql" -h "$STATE/run" -p "$PG_PORT" -U returnrisk -d postgres -tAc \
        "select 1 from pg_database where datname = '$db'" | grep -q 1; then
      as_pg "$PG_BIN/createdb" -h "$STATE/run" -p "$PG_PORT" -U returnrisk "$db"
    fi
  done
  say "PostgreSQL on 127.0.0.1:$PG_PORT (databases returnrisk, mlflow)"
}

mlflow_up() {
  running "$STATE/mlflow.pid" && return 0
  mkdir -p "$STATE/artifacts"
  # the server's own process group, so that `down` stops its workers too
  setsid "$BIN/mlflow" server --backend-store-uri "postgresql+psycopg://returnrisk@127.0.0.1:$PG_PORT/mlflow" \
    --artifacts-destination "$STATE/artifacts" --host 127.0.0.1 --port "$MLFLOW_PORT" \
    >"$STATE/logs/mlflow.log" 2>&1 < /dev/null &
  echo $! >"$STATE/mlflow.pid"
  wait_http "http://127.0.0.1:$MLFLOW_PORT/health" 180 "$STATE/logs/mlflow.log"
  say "MLflow tracking server on http://127.0.0.1:$MLFLOW_PORT (backend: PostgreSQL, artifacts: $STATE/artifacts)"
}

first_model() {
  if "$BIN/python" - "$TRACKING" <<'EOF' 2>/dev/null; then return 0; fi
import sys
from mlflow import MlflowClient
MlflowClient(sys.argv[1]).get_model_version_by_alias("returnrisk", "champion")
EOF
  local data=${RETURNRISK_STACK_DATA:-}
  if [ -z "$data" ]; then
    data=$STATE/demo-shop
    [ -f "$data/order_lines.csv" ] || "$BIN/returnrisk" demo-data --out "$data" >"$STATE/logs/demo-data.log" 2>&1
  fi
  say "no champion in the registry: training on $data (log: $STATE/logs/train.log)"
  # shellcheck disable=SC2086
  "$BIN/returnrisk" train --data "$data" --tracking-uri "$TRACKING" ${RETURNRISK_STACK_TRAIN_ARGS:-} \
    >"$STATE/logs/train.log" 2>&1 || { tail -n 20 "$STATE/logs/train.log" >&2; die "the first training failed"; }
}

api_up() {
  local port
  for port in $API_PORTS; do
    running "$STATE/api-$port.pid" && continue
    mkdir -p "$STATE/metrics-$port"
    RETURNRISK_DATABASE_URL=$DATABASE RETURNRISK_TRACKING_URI=$TRACKING \
      RETURNRISK_METRICS_DIR="$STATE/metrics-$port" RETURNRISK_LOG_FORMAT=${RETURNRISK_LOG_FORMAT:-json} \
      setsid "$BIN/returnrisk" serve --host 127.0.0.1 --port "$port" --workers 1 \
      >"$STATE/logs/api-$port.log" 2>&1 < /dev/null &
    echo $! >"$STATE/api-$port.pid"
  done
  for port in $API_PORTS; do
    wait_http "http://127.0.0.1:$port/readyz" 300 "$STATE/logs/api-$port.log"
    say "API on http://127.0.0.1:$port (pid $(cat "$STATE/api-$port.pid"))"
  done
}

stop_pidfile() {   # the process group started by setsid, TERM then KILL
  local file=$1 pid i
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

TRACKING="http://127.0.0.1:$MLFLOW_PORT"
DATABASE="postgresql+psycopg://returnrisk@127.0.0.1:$PG_PORT/returnrisk"

case "${1:-}" in
  up)
    mkdir -p "$STATE/logs"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$STATE/logs"; chmod 777 "$STATE/logs"; fi
    pg_up
    "$BIN/returnrisk" db upgrade --db "$DATABASE" >"$STATE/logs/db-upgrade.log" 2>&1 \
      || { cat "$STATE/logs/db-upgrade.log" >&2; die "the service database could not be upgraded"; }
    mlflow_up
    first_model
    api_up
    cat <<EOF
RETURNRISK_DATABASE_URL=$DATABASE
MLFLOW_TRACKING_URI=$TRACKING
API=$(for p in $API_PORTS; do printf 'http://127.0.0.1:%s ' "$p"; done)
EOF
    ;;
  down)
    for file in "$STATE"/api-*.pid; do [ -e "$file" ] && stop_pidfile "$file"; done
    stop_pidfile "$STATE/mlflow.pid"
    if [ -f "$STATE/pg/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$STATE/pg" status >/dev/null 2>&1; then
      as_pg "$PG_BIN/pg_ctl" -D "$STATE/pg" -m fast -w stop >/dev/null
    fi
    say "stopped (data kept in $STATE)"
    ;;
  status)
    if [ -f "$STATE/pg/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$STATE/pg" status >/dev/null 2>&1; then
      echo "postgres running on 127.0.0.1:$PG_PORT"; else echo "postgres stopped"; fi
    if running "$STATE/mlflow.pid"; then echo "mlflow running on $TRACKING"; else echo "mlflow stopped"; fi
    for port in $API_PORTS; do
      if running "$STATE/api-$port.pid"; then echo "api running on http://127.0.0.1:$port (pid $(cat "$STATE/api-$port.pid"))"
      else echo "api stopped on port $port"; fi
    done
    ;;
  *)
    echo "usage: scripts/stack.sh up|down|status (see the comments at the top)" >&2
    exit 2
    ;;
esac
