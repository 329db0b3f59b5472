#!/usr/bin/env bash
# The instrumented stringsvc's resident memory under sustained load: its RSS after 1M requests
# and after 2M (`wrk -t2 -c64` POSTing to /uppercase in 10 s rounds), and the growth between the
# two, which must be flat. Logs and span lines go to /dev/null, as in Scripts/measure-http.sh.
# Usage: Scripts/measure-rss.sh [port]
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:-18095}
lua=../shared/anchors/post-upper.lua
url="http://127.0.0.1:$port/uppercase"

swift build -c release --product stringsvc >/dev/null
"$(swift build -c release --show-bin-path)/stringsvc" --host 127.0.0.1 --port "$port" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -fs -o /dev/null -X POST -d '{"s":"warm"}' "$url" && break; sleep 0.1; done

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
total=0
report_at=1000000
rss_1m=0
while [ "$total" -lt 2000000 ]; do
  requests=$(wrk -t2 -c64 -d10s -s "$lua" "$url" | awk '/requests in/ {print $1}')
  total=$((total + requests))
  if [ "$total" -ge "$report_at" ] && [ "$rss_1m" -eq 0 ]; then
    rss_1m=$(rss_kib)
    echo "after $total requests: RSS $((rss_1m / 1024)) MiB"
  fi
done
rss_2m=$(rss_kib)
echo "after $total requests: RSS $((rss_2m / 1024)) MiB"
echo "growth from 1M to 2M requests: $(((rss_2m - rss_1m) / 1024)) MiB ($((rss_2m - rss_1m)) KiB)"
