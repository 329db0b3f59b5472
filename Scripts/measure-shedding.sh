#!/usr/bin/env bash
# addsvc overloaded, with its load shedder and without (--no-shedding), runs alternating: every
# call waits (--latency, 5 ms by default: a downstream) and spends CPU (--work, 100 µs: so that
# refusing a call costs less than serving it), and `wrk -t2 -c256` POSTs {"a":1,"b":2} to /sum.
# Prints per run: throughput, wrk's p50/p99 over every answer (shed ones included), the share of
# answers that were shed (503), and the p99 of the calls addsvc admitted, read from its endpoint
# histogram (`kite_endpoint_request_duration_seconds{endpoint="sum",outcome="success"}`: an upper
# bucket bound).
#
# Usage: Scripts/measure-shedding.sh [rounds] [seconds] [connections] [work] [latency]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
seconds=${2:-8}
connections=${3:-256}
work=${4:-100us}
latency=${5:-5ms}
swift build -c release --product addsvc >/dev/null
addsvc=$(swift build -c release --show-bin-path)/addsvc

p99_bound() {
  # The smallest bucket bound holding 99 % of the successful sum calls.
  curl -s "http://127.0.0.1:$1/metrics" | awk '
    /^kite_endpoint_request_duration_seconds_bucket\{endpoint="sum",outcome="success",le="/ {
      match($0, /le="[^"]*"/); bound = substr($0, RSTART + 4, RLENGTH - 5); n++; bounds[n] = bound; counts[n] = $NF
    }
    END { total = counts[n]; for (i = 1; i <= n; i++) if (counts[i] >= 0.99 * total) { print bounds[i]; exit } }'
}

run() {
  local label=$1 port=$2
  shift 2
  OTEL_TRACES_EXPORTER=none "$addsvc" --host 127.0.0.1 --http-port "$port" --grpc-port 0 --latency "$latency" --work "$work" "$@" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/livez" && break; sleep 0.1; done
  local out
  out=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency -s Scripts/post-sum.lua "http://127.0.0.1:$port/sum")
  local rps p50 p99 non2xx total
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  total=$(awk '/requests in/ {print $1}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '%-22s %9s req/s  all answers p50 %8s p99 %8s  shed %5.1f %%  admitted p99 <= %ss\n' \
    "$label" "$rps" "$p50" "$p99" "$(awk -v n="${non2xx:-0}" -v t="$total" 'BEGIN {print 100 * n / t}')" "$(p99_bound "$port")"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}

for round in $(seq "$rounds"); do
  echo "round $round"
  run "addsvc, shedding" 18391
  run "addsvc, --no-shedding" 18392 --no-shedding
done
