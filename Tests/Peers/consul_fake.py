#!/usr/bin/env python3
"""A conformance fake of the parts of Consul's HTTP API that Kite's Consul backend uses.

No Consul server installs on this machine kind, so Kite's Consul tests run against this fake. It
follows Consul's documented API (developer.hashicorp.com/consul/api-docs):

- PUT /v1/agent/service/register: a service (ID, Name, Tags, Address, Port) with a TTL check
  (Check.TTL, Check.DeregisterCriticalServiceAfter). The check starts critical, as Consul's do.
- PUT /v1/agent/check/pass/service:<ID>: passes the TTL check until the TTL runs out; an unknown
  check is a 404, as on a real agent.
- PUT /v1/agent/service/deregister/<ID>.
- GET /v1/health/service/<name>?passing&tag=T&index=N&wait=D: the entries (Node, Service, Checks),
  the X-Consul-Index header; a blocking query (index > 0) returns when the index exceeds it or
  when the wait (default 5 min, at most 10 min, plus up to wait/16 as Consul adds) ends — so after
  Consul lost its state, a client's old index blocks for the whole wait and then sees a smaller
  index, which it must reset (Consul's documented client rule).

Test controls (not Consul's): POST /fake/reset-index sets the index back to 1 (a Consul that lost
its state); GET /fake/requests counts the health queries seen.
"""
import json
import sys
import threading
import time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import urlparse, parse_qs

lock = threading.Condition()
services = {}  # ID -> {"service": {...}, "ttl": s, "deregister_after": s, "passing_until": t, "critical_since": t}
state = {"index": 1, "health_queries": 0}


def parse_duration(text):
    units = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    for suffix in sorted(units, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * units[suffix]
    return float(text)


def bump():
    state["index"] += 1
    lock.notify_all()


def status(entry, now):
    return "passing" if entry["passing_until"] > now else "critical"


def sweeper():
    """Turns expired TTL checks critical (an index change) and removes services critical too long."""
    seen = {}
    while True:
        time.sleep(0.05)
        with lock:
            now = time.monotonic()
            for service_id, entry in list(services.items()):
                current = status(entry, now)
                if seen.get(service_id) != current:
                    if current == "critical":
                        entry["critical_since"] = now
                    seen[service_id] = current
                    bump()
                after = entry["deregister_after"]
                if current == "critical" and after is not None and now - entry["critical_since"] >= after:
                    del services[service_id]
                    seen.pop(service_id, None)
                    bump()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body=b"", headers=None):
        self.send_response(code)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_PUT(self):
        path = urlparse(self.path).path
        if path == "/v1/agent/service/register":
            try:
                spec = json.loads(self.body() or b"{}")
                name = spec["Name"]
            except (ValueError, KeyError, TypeError):
                return self.reply(400, b"Request decode failed: missing Name")
            check = spec.get("Check") or {}
            with lock:
                services[spec.get("ID") or name] = {
                    "service": {
                        "ID": spec.get("ID") or name,
                        "Service": name,
                        "Tags": spec.get("Tags") or [],
                        "Address": spec.get("Address") or "",
                        "Port": spec.get("Port") or 0,
                    },
                    "ttl": parse_duration(check["TTL"]) if "TTL" in check else None,
                    "deregister_after": parse_duration(check["DeregisterCriticalServiceAfter"])
                    if "DeregisterCriticalServiceAfter" in check else None,
                    "passing_until": 0 if "TTL" in check else float("inf"),
                    "critical_since": time.monotonic(),
                }
                bump()
            return self.reply(200)
        if path.startswith("/v1/agent/check/pass/service:"):
            service_id = path[len("/v1/agent/check/pass/service:"):]
            with lock:
                entry = services.get(service_id)
                if entry is None or entry["ttl"] is None:
                    return self.reply(404, ("Unknown check ID \"service:%s\"" % service_id).encode())
                entry["passing_until"] = time.monotonic() + entry["ttl"]
            return self.reply(200)
        if path.startswith("/v1/agent/service/deregister/"):
            with lock:
                if services.pop(path[len("/v1/agent/service/deregister/"):], None) is not None:
                    bump()
            return self.reply(200)
        return self.reply(404, b"not found")

    def do_POST(self):
        if urlparse(self.path).path == "/fake/reset-index":
            with lock:
                state["index"] = 1
                lock.notify_all()
            return self.reply(200)
        return self.reply(404, b"not found")

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        if url.path == "/fake/requests":
            return self.reply(200, json.dumps(state).encode())
        if not url.path.startswith("/v1/health/service/"):
            return self.reply(404, b"not found")
        name = url.path[len("/v1/health/service/"):]
        passing_only = "passing" in query and query["passing"][0] in ("", "1", "true")
        tags = query.get("tag", [])
        wait = min(parse_duration(query["wait"][0]) if "wait" in query else 300.0, 600.0)
        with lock:
            state["health_queries"] += 1
            if "index" in query:
                try:
                    index = int(query["index"][0])
                except ValueError:
                    return self.reply(400, b"Invalid index")
                deadline = time.monotonic() + wait + wait / 16
                while index > 0 and state["index"] <= index:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    lock.wait(left)
            now = time.monotonic()
            entries = []
            for entry in services.values():
                service = entry["service"]
                if service["Service"] != name or any(tag not in service["Tags"] for tag in tags):
                    continue
                check_status = status(entry, now)
                if passing_only and check_status != "passing":
                    continue
                entries.append({
                    "Node": {"Node": "fake-node", "Address": "127.0.0.1"},
                    "Service": service,
                    "Checks": [{"CheckID": "service:" + service["ID"], "Status": check_status}],
                })
            index = state["index"]
        entries.sort(key=lambda entry: entry["Service"]["ID"])
        return self.reply(200, json.dumps(entries).encode(), {
            "Content-Type": "application/json",
            "X-Consul-Index": str(index),
        })


class Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that hangs up mid-query (a cancelled blocking query) is normal, not an error.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def main():
    port = int(sys.argv[sys.argv.index("--port") + 1]) if "--port" in sys.argv else 0
    server = Server(("127.0.0.1", port), Handler)
    threading.Thread(target=sweeper, daemon=True).start()
    print("listening %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
