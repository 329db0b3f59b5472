#!/usr/bin/env bash
# Measures the stringsvc example against the go-kit anchor (../shared/anchors) under the same load:
# requests/s and server CPU per request, for POST /uppercase with `wrk -t2 -c64`, alternating runs.
# One Kite run also exports its spans over OTLP/HTTP to a discarding endpoint
# (Scripts/discard-otlp.py), so that the export's cost under load is in the figures. Each round
# ends with the two ratios the per-request cost issue tracks: Kite (sampled spans, metrics, a log
# line) against go-kit instrumented (logfmt line, counter, histogram), CPU per request and req/s.
# Needs wrk, python3 and the anchor built as ../shared/anchors/README.md says ($HOME/gokit-anchor).
# Usage: Scripts/measure-http.sh [rounds] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
seconds=${2:-8}
lua=../shared/anchors/post-upper.lua
anchor=${GOKIT_ANCHOR:-$HOME/gokit-anchor}

swift build -c release --product stringsvc >/dev/null
stringsvc=$(swift build -c release --show-bin-path)/stringsvc

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
results=$(mktemp)
otlp_port_file=$(mktemp)
python3 Scripts/discard-otlp.py >"$otlp_port_file" &
otlp_pid=$!
trap 'kill $otlp_pid 2>/dev/null || true; rm -f "$results" "$otlp_port_file"' EXIT
for _ in $(seq 1 50); do [ -s "$otlp_port_file" ] && break; sleep 0.1; done
otlp_endpoint="http://127.0.0.1:$(head -1 "$otlp_port_file")"
ticks_per_second=$(getconf CLK_TCK)

measure() {  # name port pid
  local name=$1 port=$2 pid=$3
  for _ in $(seq 1 50); do curl -fs -o /dev/null -X POST -d '{"s":"warm"}' "http://127.0.0.1:$port/uppercase" 2>/dev/null && break; sleep 0.1; done
  wrk -t2 -c64 -d2s -s "$lua" "http://127.0.0.1:$port/uppercase" >/dev/null  # warm-up
  local before after out requests
  before=$(cpu_ticks "$pid")
  out=$(wrk -t2 -c64 -d"${seconds}s" -s "$lua" "http://127.0.0.1:$port/uppercase")
  after=$(cpu_ticks "$pid")
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  awk -v n="$name" -v r="$requests" -v s="$seconds" -v t=$((after - before)) -v hz="$ticks_per_second" \
    'BEGIN { printf "%-58s %9.0f req/s %7.1f µs CPU/request\n", n, r / s, t / hz / r * 1e6 }' | tee -a "$results"
}

ratios() {  # the last round's Kite (sampled) against go-kit instrumented
  awk '/^go-kit, logfmt/ { gr = $(NF-4); gc = $(NF-2) } /^Kite stringsvc \(logs, metrics, spans sampled\)/ { kr = $(NF-4); kc = $(NF-2) }
    END { printf "ratios: CPU/request %.2f× go-kit instrumented, req/s %.2f×\n", kc / gc, kr / gr }' "$results"
}

run() {  # name port command...
  local name=$1 port=$2; shift 2
  "$@" >/dev/null 2>&1 &
  local pid=$!
  measure "$name" "$port" "$pid"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

for round in $(seq 1 "$rounds"); do
  echo "round $round"
  run "go-kit, bare" 18081 "$anchor" -addr 127.0.0.1:18081
  run "go-kit, logfmt + counter + histogram" 18082 "$anchor" -addr 127.0.0.1:18082 -instrumented -log /dev/null
  run "Kite stringsvc (logs, metrics, spans sampled)" 18083 "$stringsvc" --host 127.0.0.1 --port 18083
  run "Kite stringsvc (logs, metrics, spans unsampled)" 18084 env OTEL_TRACES_SAMPLER=always_off "$stringsvc" --host 127.0.0.1 --port 18084
  run "Kite stringsvc (spans sampled, exported over OTLP/HTTP)" 18085 env OTEL_EXPORTER_OTLP_ENDPOINT="$otlp_endpoint" \
    OTEL_TRACES_EXPORTER=otlp OTEL_METRICS_EXPORTER=none OTEL_LOGS_EXPORTER=console "$stringsvc" --host 127.0.0.1 --port 18085
  ratios
  : >"$results"
done
