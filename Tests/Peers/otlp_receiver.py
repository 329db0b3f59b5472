#!/usr/bin/env python3
"""An OTLP/HTTP receiver for Kite's tests.

Decodes what it receives with the upstream OpenTelemetry protobuf definitions (PyPI
`opentelemetry-proto`) and reports it as JSON, so Swift tests can assert on what a real decoder
made of Kite's bytes. Listens on 127.0.0.1; `--port 0` lets the OS pick, and the first line on
standard output is `listening PORT`.

  POST /v1/traces, /v1/metrics, /v1/logs   OTLP/HTTP protobuf (gzip or not)
  GET  /received                            everything decoded so far, as JSON
  POST /control                             JSON: how to answer the next requests, e.g.
        {"status": 503, "retry_after": 1, "count": 2}  -> answer 2 requests with 503 + Retry-After
        {"status": 200, "body_bytes": 2000000}         -> answer with that status and a body that long
        {"partial_rejected": 3, "partial_message": "…"} -> 200 with a partial success, once
        {"hang": true}                      -> hold the next request unanswered until /release
        {"close": true, "count": 3}         -> answer 3 requests with Connection: close, then close
  POST /release                             answer the held request
  GET  /held                                how many requests are being held

Each decoded body is also written to --dump DIR as SIGNAL-N.bin (decompressed), for
`protoc --decode`.
"""
import argparse
import gzip
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

LOCK = threading.Lock()
STATE = {"spans": [], "metrics": [], "logs": [], "requests": [], "control": []}
DUMP = None
RELEASE = threading.Event()
HELD = {"n": 0}
COUNTER = {"n": 0}


def any_value(value):
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return {"string": value.string_value}
    if kind == "bool_value":
        return {"bool": value.bool_value}
    if kind == "int_value":
        return {"int": value.int_value}
    if kind == "double_value":
        return {"double": value.double_value}
    if kind == "array_value":
        return {"array": [any_value(v) for v in value.array_value.values]}
    if kind == "kvlist_value":
        return {"kvlist": attributes(value.kvlist_value.values)}
    if kind == "bytes_value":
        return {"bytes": value.bytes_value.hex()}
    return {"empty": True}


def attributes(key_values):
    return {kv.key: any_value(kv.value) for kv in key_values}


def resource_of(resource):
    return {kv.key: kv.value.string_value for kv in resource.attributes}


def decode_traces(body):
    request = trace_service_pb2.ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = resource_of(resource_spans.resource)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append({
                    "resource": resource,
                    "scope": {"name": scope_spans.scope.name, "version": scope_spans.scope.version},
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex(),
                    "trace_state": span.trace_state,
                    "flags": span.flags,
                    "name": span.name,
                    "kind": span.kind,
                    "start": span.start_time_unix_nano,
                    "end": span.end_time_unix_nano,
                    "attributes": attributes(span.attributes),
                    "dropped_attributes": span.dropped_attributes_count,
                    "events": [{
                        "time": e.time_unix_nano, "name": e.name,
                        "attributes": attributes(e.attributes),
                        "dropped_attributes": e.dropped_attributes_count,
                    } for e in span.events],
                    "dropped_events": span.dropped_events_count,
                    "links": [{
                        "trace_id": l.trace_id.hex(), "span_id": l.span_id.hex(),
                        "trace_state": l.trace_state, "flags": l.flags,
                        "attributes": attributes(l.attributes),
                        "dropped_attributes": l.dropped_attributes_count,
                    } for l in span.links],
                    "dropped_links": span.dropped_links_count,
                    "status": {"code": span.status.code, "message": span.status.message},
                })
    return "spans", spans


def decode_metrics(body):
    request = metrics_service_pb2.ExportMetricsServiceRequest()
    request.ParseFromString(body)
    metrics = []
    for resource_metrics in request.resource_metrics:
        resource = resource_of(resource_metrics.resource)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                entry = {"resource": resource, "name": metric.name, "description": metric.description,
                         "unit": metric.unit, "type": kind, "points": []}
                if kind in ("sum", "gauge"):
                    data = getattr(metric, kind)
                    if kind == "sum":
                        entry["temporality"] = data.aggregation_temporality
                        entry["monotonic"] = data.is_monotonic
                    for p in data.data_points:
                        value = p.as_double if p.WhichOneof("value") == "as_double" else p.as_int
                        entry["points"].append({"attributes": {kv.key: kv.value.string_value for kv in p.attributes},
                                                "start": p.start_time_unix_nano, "time": p.time_unix_nano,
                                                "value": value})
                elif kind == "histogram":
                    entry["temporality"] = metric.histogram.aggregation_temporality
                    for p in metric.histogram.data_points:
                        entry["points"].append({"attributes": {kv.key: kv.value.string_value for kv in p.attributes},
                                                "start": p.start_time_unix_nano, "time": p.time_unix_nano,
                                                "count": p.count, "sum": p.sum, "has_sum": p.HasField("sum"),
                                                "bucket_counts": list(p.bucket_counts),
                                                "explicit_bounds": list(p.explicit_bounds),
                                                "exemplars": [{"trace_id": e.trace_id.hex(), "span_id": e.span_id.hex(),
                                                               "time": e.time_unix_nano, "value": e.as_double}
                                                              for e in p.exemplars]})
                metrics.append(entry)
    return "metrics", metrics


def decode_logs(body):
    request = logs_service_pb2.ExportLogsServiceRequest()
    request.ParseFromString(body)
    logs = []
    for resource_logs in request.resource_logs:
        resource = resource_of(resource_logs.resource)
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                logs.append({
                    "resource": resource,
                    "time": record.time_unix_nano,
                    "observed_time": record.observed_time_unix_nano,
                    "severity_number": record.severity_number,
                    "severity_text": record.severity_text,
                    "body": any_value(record.body),
                    "attributes": attributes(record.attributes),
                    "trace_id": record.trace_id.hex(),
                    "span_id": record.span_id.hex(),
                    "flags": record.flags,
                })
    return "logs", logs


DECODERS = {"/v1/traces": decode_traces, "/v1/metrics": decode_metrics, "/v1/logs": decode_logs}
PARTIAL = {"/v1/traces": trace_service_pb2.ExportTraceServiceResponse,
           "/v1/metrics": metrics_service_pb2.ExportMetricsServiceResponse,
           "/v1/logs": logs_service_pb2.ExportLogsServiceResponse}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    close_after = False

    def reply(self, status, body=b"", content_type="application/json", headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.close_after:
            self.send_header("Connection", "close")
            self.close_connection = True
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/held":
            with LOCK:
                return self.reply(200, json.dumps({"held": HELD["n"]}).encode())
        if self.path != "/received":
            return self.reply(404)
        with LOCK:
            body = json.dumps({k: STATE[k] for k in ("spans", "metrics", "logs", "requests")}).encode()
        self.reply(200, body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path == "/control":
            with LOCK:
                STATE["control"].append(json.loads(body))
            return self.reply(200, b"{}")
        if self.path == "/release":
            RELEASE.set()
            return self.reply(200, b"{}")
        if self.path == "/reset":
            with LOCK:
                for key in ("spans", "metrics", "logs", "requests"):
                    STATE[key] = []
            return self.reply(200, b"{}")
        decoder = DECODERS.get(self.path)
        if decoder is None:
            return self.reply(404)
        record = {"path": self.path, "content_type": self.headers.get("Content-Type", ""),
                  "content_encoding": self.headers.get("Content-Encoding", ""),
                  "user_agent": self.headers.get("User-Agent", ""),
                  "authorization": self.headers.get("Authorization", ""),
                  "wire_bytes": length, "time": time.monotonic(), "peer_port": self.client_address[1]}
        with LOCK:
            control = STATE["control"][0] if STATE["control"] else None
            if control is not None and control.get("close"):
                self.close_after = True
                control["count"] = control.get("count", 1) - 1
                if control["count"] <= 0:
                    STATE["control"].pop(0)
                control = STATE["control"][0] if STATE["control"] else None
            hang = control is not None and control.get("hang")
            if hang:
                STATE["control"].pop(0)
                HELD["n"] += 1
        if hang:
            RELEASE.wait()
            with LOCK:
                HELD["n"] -= 1
        if record["content_encoding"] == "gzip":
            body = gzip.decompress(body)
        try:
            kind, items = decoder(body)
            decode_error = None
        except Exception as error:  # a body the upstream decoder refuses is a test failure
            kind, items, decode_error = None, [], error
        if kind == "metrics":
            record["points"] = sum(len(metric["points"]) for metric in items)
        with LOCK:
            control = STATE["control"][0] if STATE["control"] else None
            if control is not None and "status" in control:
                control["count"] = control.get("count", 1) - 1
                if control["count"] <= 0:
                    STATE["control"].pop(0)
                record["status"] = control["status"]
                STATE["requests"].append(record)
                headers = {"Retry-After": str(control["retry_after"])} if "retry_after" in control else {}
                reply = b"x" * control["body_bytes"] if "body_bytes" in control else b"collector says no"
                return self.reply(control["status"], reply, "text/plain", headers)
        if decode_error is not None:
            with LOCK:
                record["status"] = 400
                record["error"] = str(decode_error)
                STATE["requests"].append(record)
            return self.reply(400, str(decode_error).encode(), "text/plain")
        response = PARTIAL[self.path]()
        with LOCK:
            if DUMP:
                COUNTER["n"] += 1
                with open(os.path.join(DUMP, "%s-%d.bin" % (self.path.rsplit("/", 1)[1], COUNTER["n"])), "wb") as f:
                    f.write(body)
            STATE[kind].extend(items)
            record["status"] = 200
            record["items"] = len(items)
            STATE["requests"].append(record)
            control = STATE["control"][0] if STATE["control"] else None
            if control is not None and "partial_rejected" in control:
                STATE["control"].pop(0)
                field = {"/v1/traces": "rejected_spans", "/v1/metrics": "rejected_data_points",
                         "/v1/logs": "rejected_log_records"}[self.path]
                setattr(response.partial_success, field, control["partial_rejected"])
                response.partial_success.error_message = control.get("partial_message", "")
        self.reply(200, response.SerializeToString(), "application/x-protobuf")


def main():
    global DUMP
    # A child may inherit SIGTERM and SIGINT blocked from its parent; take them back.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--dump")
    args = parser.parse_args()
    DUMP = args.dump
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print("listening %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
