#!/usr/bin/env bash
# NATS request/reply round trips per second on 127.0.0.1, through one nats-server: Kite's client
# (addcli --repeat) calling Kite's responder (addsvc --nats), beside nats-py calling a nats-py
# echo responder (Tests/Peers/nats_peer.py bench/echo), alternating, at 1 and 16 requests in flight.
#
# Kite runs as it ships: addcli with its resilience middleware (timeout, retry, breaker), addsvc
# with the one decorator and spans to the console (into a log file); "bare" is addsvc --bare with
# traces off. Needs nats-server and nats-py (Scripts/test.sh installs both).
#
# Usage: Scripts/measure-nats.sh [rounds] [requests]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"
rounds=${1:-2}
requests=${2:-20000}

swift build -c release --product addsvc >/dev/null
swift build -c release --product addcli >/dev/null
bin=$(swift build -c release --show-bin-path)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="nats://127.0.0.1:$port"

nats-server -a 127.0.0.1 -p "$port" >/dev/null 2>&1 &
pids=($!)
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

mkfifo_dir=$(mktemp -d)
mkfifo "$mkfifo_dir/echo-in"
python3 Tests/Peers/nats_peer.py echo "$url" bench.echo <"$mkfifo_dir/echo-in" >"$mkfifo_dir/echo-out" &
pids+=($!)
exec 4>"$mkfifo_dir/echo-in"   # holds the echo responder's standard input open
for _ in $(seq 1 100); do grep -q ready "$mkfifo_dir/echo-out" 2>/dev/null && break; sleep 0.1; done

start_addsvc() {
  "$bin/addsvc" --host 127.0.0.1 --http-port 0 --grpc-port 0 --nats "$url" "$@" >"$mkfifo_dir/addsvc.log" 2>&1 &
  addsvc_pid=$!
  for _ in $(seq 1 100); do grep -q 'nats: serving' "$mkfifo_dir/addsvc.log" 2>/dev/null && break; sleep 0.1; done
}

kite() {  # name, concurrency, addsvc arguments…
  local name=$1 concurrency=$2; shift 2
  start_addsvc "$@"
  local line
  line=$("$bin/addcli" --transport nats --nats "$url" --repeat "$requests" --concurrency "$concurrency" sum 1 2)
  kill "$addsvc_pid"; wait "$addsvc_pid" 2>/dev/null || true
  echo "$name c=$concurrency $(echo "$line" | python3 -c "import json,sys; d=json.load(sys.stdin); print('%s req/s, p50 %s ms, p99 %s ms, failures %s' % (d['per_second'], d['p50_ms'], d['p99_ms'], d['failure']))")"
}

python_peer() {  # concurrency
  local line
  line=$(python3 Tests/Peers/nats_peer.py bench "$url" bench.echo "$requests" "$1")
  echo "nats-py c=$1 $(echo "$line" | python3 -c "import json,sys; d=json.load(sys.stdin); print('%.0f req/s' % d['per_second'])")"
}

for concurrency in 1 16; do
  for round in $(seq 1 "$rounds"); do
    python_peer "$concurrency"
    kite "Kite (one decorator, spans)" "$concurrency"
    OTEL_TRACES_EXPORTER=none kite "Kite bare" "$concurrency" --bare
  done
done
exec 4>&-
rm -rf "$mkfifo_dir"
