#!/usr/bin/env bash
# Drives a running server with `wrk -t2 -c64` POSTing {"s":"hello world"} to /uppercase and
# prints its requests/s and its user and system CPU per request, read from /proc/<pid>/stat, then
# each busy thread's share (by thread name, from /proc/<pid>/task/*/stat) and its context switches.
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
threads() {  # tid name ticks voluntary involuntary, one line per thread
  for task in /proc/"$pid"/task/*; do
    echo "$(basename "$task") $(tr ' ' '_' <"$task/comm") $(awk '{print $14 + $15}' "$task/stat")" \
      "$(awk '/^voluntary_ctxt/ {v = $2} /^nonvoluntary_ctxt/ {n = $2} END {print v, n}' "$task/status")"
  done | sort
}
wrk -t2 -c64 -d2s -s "$lua" "$url" >/dev/null
read -r user_before system_before < <(awk '{print $14, $15}' "/proc/$pid/stat")
threads_before=$(threads)
out=$(wrk -t2 -c64 -d"${seconds}s" -s "$lua" "$url")
read -r user_after system_after < <(awk '{print $14, $15}' "/proc/$pid/stat")
threads_after=$(threads)
requests=$(echo "$out" | awk '/requests in/ {print $1}')
awk -v r="$requests" -v s="$seconds" -v u=$((user_after - user_before)) -v k=$((system_after - system_before)) -v hz="$(getconf CLK_TCK)" \
  'BEGIN { printf "%.0f req/s, user %.1f µs, system %.1f µs CPU per request\n", r / s, u / hz / r * 1e6, k / hz / r * 1e6 }'
join <(echo "$threads_before") <(echo "$threads_after") | awk -v r="$requests" -v hz="$(getconf CLK_TCK)" \
  '$7 > $3 { printf "  %-16s %6.2f µs CPU per request, %d voluntary and %d involuntary switches\n", $2, ($7 - $3) / hz / r * 1e6, $8 - $4, $9 - $5 }'
