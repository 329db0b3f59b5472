#!/usr/bin/env python3
"""An OTLP/HTTP endpoint that reads every export and throws it away, answering 200 with an empty
(valid) protobuf response: what Scripts/measure-http.sh and the end-to-end benchmark export spans
to, so that the exporting side's cost is measured without a collector's. Prints the port it
listens on, then serves.

It reads requests off the socket itself — the head up to its blank line, then Content-Length
bytes into one reused buffer — rather than through http.server, whose header parsing took a
quarter of the machine's samples under the end-to-end benchmark's 200 exports a second, on the
same two cores as the process being measured. Requests with a chunked body are refused (411):
Kite's exporters send Content-Length.

Usage: Scripts/discard-otlp.py [port]   (0 or nothing: a free port)
"""
import socket
import socketserver
import sys

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n"
LENGTH_REQUIRED = b"HTTP/1.1 411 Length Required\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class Discard(socketserver.BaseRequestHandler):
    def handle(self):
        connection = self.request
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        scratch = memoryview(bytearray(1 << 20))
        pending = b""
        while True:
            while b"\r\n\r\n" not in pending:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                pending += chunk
            head, _, pending = pending.partition(b"\r\n\r\n")
            length = None
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length is None:
                connection.sendall(LENGTH_REQUIRED)
                return
            # The body: what was read with the head, then the rest straight into the scratch buffer.
            taken = min(length, len(pending))
            pending = pending[taken:]
            remaining = length - taken
            while remaining > 0:
                count = connection.recv_into(scratch, min(remaining, len(scratch)))
                if count == 0:
                    return
                remaining -= count
            connection.sendall(OK)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


server = Server(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Discard)
print(server.server_address[1], flush=True)
server.serve_forever()
