#!/usr/bin/env bash
# Renders the README's dashboard pictures (Dashboards/images/*.png) from real data: nats-server,
# etcd, addsvc over HTTP, gRPC, NATS and Thrift (registered in etcd, failing 5 % of its calls, with
# its spans, metrics and logs exported over OTLP to a receiver that discards them and its metrics
# pushed to a StatsD port), the apigateway calling it over HTTP, a Prometheus scraping both with
# Kite's rules, and load on every transport for MINUTES minutes; then Dashboards/render.
#
# Usage: Scripts/render-dashboards.sh [minutes]     (needs matplotlib: pip install matplotlib)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"
minutes=${1:-6}
swift build --product addsvc >/dev/null
swift build --product addcli >/dev/null
swift build --product apigateway >/dev/null
bin=$(swift build --show-bin-path)
dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$dir"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 1 150); do grep -q "$2" "$1" 2>/dev/null && return; sleep 0.2; done; echo "timed out waiting for $2 in $1" >&2; exit 1; }

nats_port=$(free_port); etcd_port=$(free_port); etcd_peer=$(free_port)
nats-server -a 127.0.0.1 -p "$nats_port" >"$dir/nats.log" 2>&1 & pids+=($!)
etcd --data-dir "$dir/etcd" --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
  --initial-cluster "default=http://127.0.0.1:$etcd_peer" >"$dir/etcd.log" 2>&1 & pids+=($!)
python3 Scripts/discard-otlp.py >"$dir/otlp.port" & pids+=($!)
wait_for "$dir/otlp.port" .
sleep 1

OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$(head -1 "$dir/otlp.port")" KITE_STATSD_ADDRESS="127.0.0.1:$(free_port)" \
  "$bin/addsvc" --host 127.0.0.1 --http-port 0 --grpc-port 0 --thrift-port 0 --nats "nats://127.0.0.1:$nats_port" \
  --fail-rate 0.05 --register etcd --registry "http://127.0.0.1:$etcd_port" >"$dir/addsvc.log" 2>&1 & pids+=($!)
wait_for "$dir/addsvc.log" 'nats: serving'
port_of() { grep "transport=$1" "$dir/addsvc.log" | sed -E 's/.* port=([0-9]+).*/\1/' | head -1; }
http_port=$(port_of http); grpc_port=$(port_of grpc); thrift_port=$(port_of thrift)
"$bin/apigateway" --host 127.0.0.1 --http-port 0 --discovery etcd --registry "http://127.0.0.1:$etcd_port" >"$dir/gateway.log" 2>&1 & pids+=($!)
wait_for "$dir/gateway.log" 'listening'
gateway_port=$(grep 'listening' "$dir/gateway.log" | sed -E 's/.* port=([0-9]+).*/\1/' | head -1)

prom_port=$(free_port)
cat >"$dir/prom.yml" <<YAML
global: {scrape_interval: 2s, evaluation_interval: 2s}
rule_files: ['$PWD/Dashboards/kite-rules.yml']
scrape_configs:
  - job_name: addsvc
    static_configs: [{targets: ['127.0.0.1:$http_port']}]
  - job_name: apigateway
    static_configs: [{targets: ['127.0.0.1:$gateway_port']}]
YAML
prometheus --config.file="$dir/prom.yml" --storage.tsdb.path="$dir/prom" --web.listen-address="127.0.0.1:$prom_port" >"$dir/prom.log" 2>&1 & pids+=($!)

# Load on every transport; business errors and 404s among it.
load() { while true; do "$@" >/dev/null 2>&1 || true; done; }
load curl -s -X POST "127.0.0.1:$gateway_port/addsvc/sum" -d '{"a":1,"b":2}' & pids+=($!)
load curl -s -X POST "127.0.0.1:$http_port/sum" -d '{"a":0,"b":0}' & pids+=($!)
load curl -s "127.0.0.1:$http_port/nope" & pids+=($!)
load "$bin/addcli" --transport grpc --grpc-addr "127.0.0.1:$grpc_port" --repeat 200 --concurrency 4 sum 1 2 & pids+=($!)
load "$bin/addcli" --transport nats --nats "nats://127.0.0.1:$nats_port" --repeat 200 --concurrency 4 sum 1 2 & pids+=($!)
load "$bin/addcli" --transport thrift --thrift-addr "127.0.0.1:$thrift_port" --repeat 200 --concurrency 4 concat a b & pids+=($!)
echo "render-dashboards: loading for $minutes minutes (Prometheus on 127.0.0.1:$prom_port)"
sleep $((minutes * 60))
python3 Dashboards/render --prometheus "http://127.0.0.1:$prom_port" --minutes "$minutes" \
  kite-service.json kite-telemetry.json kite-runtime.json
