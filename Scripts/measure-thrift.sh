#!/usr/bin/env bash
# Thrift round trips per second on 127.0.0.1, compact protocol over the framed transport:
# Kite's client (addcli --repeat) calling Kite's addsvc (--thrift-port), beside the upstream
# Python library calling its own server of go-kit's addsvc.thrift (Tests/Peers/thrift_peer.py),
# alternating. Python's generated client makes one call at a time on its connection, so its row
# is at 1 call in flight; Kite's client multiplexes calls on one connection by sequence id and is
# also measured at 16 in flight.
#
# Kite runs as it ships: addcli with its resilience middleware, addsvc with the one decorator and
# spans to the console (into a log file); "bare" is addsvc --bare with traces off.
#
# Usage: Scripts/measure-thrift.sh [rounds] [calls]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
calls=${2:-20000}
protocol=compact
transport=framed

swift build -c release --product addsvc >/dev/null
swift build -c release --product addcli >/dev/null
bin=$(swift build -c release --show-bin-path)
dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$dir"' EXIT

python3 Tests/Peers/thrift_peer.py serve addsvc "$protocol" "$transport" >"$dir/python.out" 2>/dev/null &
pids+=($!)
for _ in $(seq 1 100); do grep -q listening "$dir/python.out" 2>/dev/null && break; sleep 0.1; done
python_port=$(awk '/listening/ {print $2}' "$dir/python.out")

python_peer() {
  local line
  line=$(python3 Tests/Peers/thrift_peer.py bench addsvc "$python_port" "$protocol" "$transport" "$calls")
  echo "python thrift c=1 $(echo "$line" | python3 -c "import json,sys; d=json.load(sys.stdin); print('%.0f calls/s' % d['per_second'])")"
}

kite() {  # name, concurrency, addsvc arguments…
  local name=$1 concurrency=$2; shift 2
  "$bin/addsvc" --host 127.0.0.1 --http-port 0 --grpc-port 0 --thrift-port 0 --thrift-protocol "$protocol" --thrift-transport "$transport" "$@" >"$dir/addsvc.log" 2>&1 &
  local addsvc_pid=$!
  for _ in $(seq 1 100); do grep -q 'transport=thrift' "$dir/addsvc.log" 2>/dev/null && break; sleep 0.1; done
  local port
  port=$(grep 'transport=thrift' "$dir/addsvc.log" | sed -E 's/.* port=([0-9]+).*/\1/' | head -1)
  local line
  line=$("$bin/addcli" --transport thrift --thrift-addr "127.0.0.1:$port" --thrift-protocol "$protocol" --thrift-transport "$transport" \
    --repeat "$calls" --concurrency "$concurrency" sum 1 2)
  kill "$addsvc_pid"; wait "$addsvc_pid" 2>/dev/null || true
  echo "$name c=$concurrency $(echo "$line" | python3 -c "import json,sys; d=json.load(sys.stdin); print('%s calls/s, p50 %s ms, p99 %s ms, failures %s' % (d['per_second'], d['p50_ms'], d['p99_ms'], d['failure']))")"
}

for round in $(seq 1 "$rounds"); do
  python_peer
  kite "Kite (one decorator, spans)" 1
  OTEL_TRACES_EXPORTER=none kite "Kite bare" 1 --bare
  kite "Kite (one decorator, spans)" 16
  OTEL_TRACES_EXPORTER=none kite "Kite bare" 16 --bare
done
