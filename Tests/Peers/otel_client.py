#!/usr/bin/env python3
"""A client span made by the Python OpenTelemetry SDK, calling a URL with its `traceparent`.

  otel_client.py URL JSON_BODY

Prints one JSON line: the client span's trace_id and span_id (hex), the headers it sent, and the
response's status and body.
"""
import json
import sys
import urllib.request

from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider


def main():
    url, body = sys.argv[1], sys.argv[2]
    trace.set_tracer_provider(TracerProvider())
    tracer = trace.get_tracer("kite-tests")
    with tracer.start_as_current_span("python client", kind=trace.SpanKind.CLIENT) as span:
        headers = {"Content-Type": "application/json"}
        propagate.inject(headers)
        request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
        context = span.get_span_context()
    print(json.dumps({
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
        "headers": headers,
        "status": status,
        "body": text,
    }))


if __name__ == "__main__":
    main()
