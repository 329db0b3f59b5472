#!/usr/bin/env python3
"""An OTLP/HTTP endpoint that reads every export and throws it away, answering 200 with an empty
(valid) protobuf response: what Scripts/measure-http.sh exports spans to, so that the exporting
side's cost is measured without a collector's. Prints the port it listens on, then serves.

Usage: Scripts/discard-otlp.py [port]   (0 or nothing: a free port)
"""
import http.server
import sys


class Discard(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Discard)
print(server.server_address[1], flush=True)
server.serve_forever()
