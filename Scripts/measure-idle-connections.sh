#!/usr/bin/env bash
# The memory a kept-alive connection costs a server once it has answered a request on it: opens
# N connections to a running server, sends one POST /uppercase on each and reads its answer,
# keeps them all open, and prints the server's RSS before and after (from /proc).
# Usage: Scripts/measure-idle-connections.sh <port> <pid> [connections]
# Example: stringsvc --host 127.0.0.1 --port 18300 >/dev/null 2>&1 &
#          Scripts/measure-idle-connections.sh 18300 $! 4000
set -euo pipefail
port=$1
pid=$2
count=${3:-4000}
python3 - "$port" "$pid" "$count" <<'PY'
import socket, sys
port, pid, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
def rss():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
body = b'{"s":"a"}'
request = b"POST /uppercase HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
before = rss()
connections = []
for _ in range(count):
    connection = socket.create_connection(("127.0.0.1", port))
    connection.sendall(request)
    connection.recv(4096)
    connections.append(connection)
after = rss()
print(f"RSS {before} KiB before, {after} KiB with {count} idle connections: "
      f"{(after - before) / count:.1f} KiB per connection")
PY
