#!/usr/bin/env bash
# addsvc's cost per request, over HTTP/1.1 and over gRPC, bare endpoints against the one decorator,
# and beside go-kit's gRPC transport on grpc-go. Runs alternate; each prints its throughput and the
# server's CPU per request, read from /proc.
#
#   HTTP: `wrk -t2 -c64` POSTing {"a":1,"b":2} to /sum (Scripts/post-sum.lua).
#   gRPC: `grpc-load -c 64 -conns 2` calling pb.Add/Sum (../shared/anchors' Go driver), against
#         Kite's addsvc and the go-kit anchor (`grpc-anchor`), bare and -instrumented.
#
# "Instrumented" is the one decorator on each endpoint — Prometheus series, a sampled span into the
# batch processor (exported by the console exporter to /dev/null, so the export is paid for too;
# for gRPC also a run exporting over OTLP/HTTP) and a log line per call; "bare" serves the same endpoints without it (`addsvc --bare`, traces
# off). Needs wrk, and for gRPC the anchors built as ../shared/anchors/README.md says
# ($HOME/grpc-anchor, $HOME/grpc-load); the gRPC part is skipped without them.
#
# Usage: Scripts/measure-addsvc.sh [rounds] [seconds]     (ONLY=grpc or ONLY=http runs one part)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
seconds=${2:-8}
lua=Scripts/post-sum.lua
grpc_anchor=${GRPC_ANCHOR:-$HOME/grpc-anchor}
grpc_load=${GRPC_LOAD:-$HOME/grpc-load}

swift build -c release --product addsvc >/dev/null
addsvc=$(swift build -c release --show-bin-path)/addsvc

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# The gRPC rows also run addsvc with its spans exported over OTLP/HTTP to a receiver that reads
# and discards them (Scripts/discard-otlp.py), as a deployment exports them.
otlp_port_file=$(mktemp)
python3 Scripts/discard-otlp.py >"$otlp_port_file" &
otlp_pid=$!
trap 'kill $otlp_pid 2>/dev/null || true; rm -f "$otlp_port_file"' EXIT
for _ in $(seq 1 50); do [ -s "$otlp_port_file" ] && break; sleep 0.1; done
otlp_endpoint="http://127.0.0.1:$(head -1 "$otlp_port_file")"
hz=$(getconf CLK_TCK)

wait_http() { for _ in $(seq 1 100); do curl -fs -o /dev/null "http://127.0.0.1:$1/livez" && return; sleep 0.1; done; }
wait_tcp() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; }

http_run() {  # name port env...
  local name=$1 port=$2; shift 2
  env "$@" "$addsvc" --host 127.0.0.1 --http-port "$port" --grpc-port 0 --no-shedding ${BARE:+--bare} >/dev/null 2>&1 &
  local pid=$!
  wait_http "$port"
  wrk -t2 -c64 -d2s -s "$lua" "http://127.0.0.1:$port/sum" >/dev/null
  local before after out requests
  before=$(cpu_ticks "$pid")
  out=$(wrk -t2 -c64 -d"${seconds}s" -s "$lua" "http://127.0.0.1:$port/sum")
  after=$(cpu_ticks "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  awk -v n="$name" -v r="$requests" -v s="$seconds" -v t=$((after - before)) -v hz="$hz" \
    'BEGIN { printf "%-48s %9.0f req/s %7.1f µs CPU/request\n", n, r / s, t / hz / r * 1e6 }'
  echo "$requests" > "/tmp/kite-measure-$port"
}

grpc_run() {  # name port command...
  local name=$1 port=$2; shift 2
  "$@" >/dev/null 2>&1 &
  local pid=$!
  wait_tcp "$port"
  "$grpc_load" -addr "127.0.0.1:$port" -c 64 -conns 2 -d 2s >/dev/null
  local before after out calls
  before=$(cpu_ticks "$pid")
  out=$("$grpc_load" -addr "127.0.0.1:$port" -c 64 -conns 2 -d "${seconds}s")
  after=$(cpu_ticks "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  calls=$(echo "$out" | awk '{print $1}')
  awk -v n="$name" -v c="$calls" -v s="$seconds" -v t=$((after - before)) -v hz="$hz" -v rest="$out" \
    'BEGIN { split(rest, f, " "); printf "%-48s %9.0f calls/s  p99 %5s µs %7.1f µs CPU/call\n", n, c, f[7], t / hz / (c * s) * 1e6 }'
}

for round in $(seq 1 "$rounds"); do
  if [[ ${ONLY:-} != grpc ]]; then
    echo "round $round — HTTP/1.1, POST /sum"
    BARE=1 http_run "addsvc, bare" 18181 OTEL_TRACES_EXPORTER=none
    bare=$(cat /tmp/kite-measure-18181)
    BARE= http_run "addsvc, one decorator (metrics, span, log line)" 18182 OTEL_TRACES_EXPORTER=console
    instrumented=$(cat /tmp/kite-measure-18182)
    awk -v b="$bare" -v i="$instrumented" 'BEGIN { printf "%-48s %9.2f\n", "throughput ratio, instrumented / bare", i / b }'
  fi
  if [[ ${ONLY:-} != http && -x $grpc_load && -x $grpc_anchor ]]; then
    echo "round $round — gRPC, unary pb.Add/Sum"
    grpc_run "go-kit gRPC (grpc-go), bare" 18282 "$grpc_anchor" -addr 127.0.0.1:18282
    grpc_run "go-kit gRPC, logfmt + counter + histogram" 18283 "$grpc_anchor" -addr 127.0.0.1:18283 -instrumented
    grpc_run "addsvc gRPC, bare" 18284 env OTEL_TRACES_EXPORTER=none "$addsvc" --host 127.0.0.1 --http-port 0 --grpc-port 18284 --no-shedding --bare
    grpc_run "addsvc gRPC, one decorator" 18285 env OTEL_TRACES_EXPORTER=console "$addsvc" --host 127.0.0.1 --http-port 0 --grpc-port 18285 --no-shedding
    grpc_run "addsvc gRPC, one decorator, spans over OTLP" 18286 env OTEL_TRACES_EXPORTER=otlp OTEL_METRICS_EXPORTER=none \
      OTEL_LOGS_EXPORTER=console OTEL_EXPORTER_OTLP_ENDPOINT="$otlp_endpoint" "$addsvc" --host 127.0.0.1 --http-port 0 --grpc-port 18286 --no-shedding
  fi
done
