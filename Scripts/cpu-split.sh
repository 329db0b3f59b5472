#!/usr/bin/env bash
# Drives a running server with `wrk -t2 -c64` POSTing {"s":"hello world"} to /uppercase and
# prints its requests/s and its user and system CPU per request, read from /proc/<pid>/stat.
# Usage: Scripts/cpu-split.sh <port> <pid> [seconds]   (a 2 s warm-up comes first)
# Example: OTEL_TRACES_SAMPLER=always_off KITE_LOG_LEVEL=error stringsvc --port 18097 --host 127.0.0.1 &
#          Scripts/cpu-split.sh 18097 $!
set -euo pipefail
cd "$(dirname "$0")/.."
port=$1
pid=$2
seconds=${3:-6}
lua=../shared/anchors/post-upper.lua
url="http://127.0.0.1:$port/uppercase"
wrk -t2 -c64 -d2s -s "$lua" "$url" >/dev/null
read -r user_before system_before < <(awk '{print $14, $15}' "/proc/$pid/stat")
out=$(wrk -t2 -c64 -d"${seconds}s" -s "$lua" "$url")
read -r user_after system_after < <(awk '{print $14, $15}' "/proc/$pid/stat")
requests=$(echo "$out" | awk '/requests in/ {print $1}')
awk -v r="$requests" -v s="$seconds" -v u=$((user_after - user_before)) -v k=$((system_after - system_before)) -v hz="$(getconf CLK_TCK)" \
  'BEGIN { printf "%.0f req/s, user %.1f µs, system %.1f µs CPU per request\n", r / s, u / hz / r * 1e6, k / hz / r * 1e6 }'
