#!/usr/bin/env bash
# TCP connection rate through the `mode tcp` frontend (port 8081 of ../shared/bench/haproxy.cfg):
# wrk opens a new connection per request (Connection: close), for HAProxy and lb in turn,
# ROUNDS times, each against the same nginx origin. ../shared/bench/run.sh measures TCP
# keep-alive throughput; this adds the connection rate it does not cover.
#
#   cargo build --release --example lb && bash bench/tcp-connection-rate.sh
#
# Needs haproxy, nginx, wrk and taskset (see ../shared/bench/README.md). Every process it
# starts is stopped by PID; each wrk run is bounded (DURATION seconds, timeout).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared/bench}
LB=${LB:-$ROOT/target/release/examples/lb}
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-8}
W=$(mktemp -d /tmp/lbtcpconn.XXXXXX)
mkdir -p "$W/logs" "$W/tmp" "$W/html"
chmod 755 "$W"; chmod -R a+rX "$W"
taskset -c 1 nginx -p "$W/" -c "$SHARED/backend/nginx.conf" -e "$W/logs/error.log" >/dev/null 2>&1 &
NG=$!
P=""
cleanup() { [[ -n "$P" ]] && kill "$P" 2>/dev/null; kill "$NG" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
sleep 1
run() {
  local label=$1; shift
  taskset -c 0 "$@" >"$W/$label.log" 2>&1 &
  P=$!
  for _ in $(seq 1 50); do ss -ltn | grep -q ":8081 " && break; sleep 0.1; done
  sleep 0.5
  local rps
  rps=$(timeout $((DURATION + 20)) taskset -c 1 wrk -t1 -c50 -d"${DURATION}s" -H "Connection: close" \
        http://127.0.0.1:8081/ 2>&1 | awk '/Requests\/sec/ {print $2}')
  kill "$P"; wait "$P" 2>/dev/null || true; P=""
  echo "$label $rps"
  sleep 1
}
for _ in $(seq 1 "$ROUNDS"); do
  run haproxy haproxy -f "$SHARED/haproxy.cfg"
  run lb "$LB" -f "$SHARED/haproxy.cfg"
done
