#!/usr/bin/env python3
"""Parses an OpenMetrics exposition from standard input with prometheus_client's OpenMetrics
parser (the reference parser of the Prometheus Python client) and prints every sample as one JSON
line: {"name", "labels", "value", "exemplar": {"labels", "value", "timestamp"} or null}.
Exits 1, with the parser's message on standard error, when the text does not parse.
"""
import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

try:
    for family in text_string_to_metric_families(sys.stdin.read()):
        for sample in family.samples:
            exemplar = None
            if sample.exemplar is not None:
                exemplar = {"labels": dict(sample.exemplar.labels), "value": sample.exemplar.value,
                            "timestamp": float(sample.exemplar.timestamp) if sample.exemplar.timestamp is not None else None}
            print(json.dumps({"name": sample.name, "labels": dict(sample.labels), "value": sample.value, "exemplar": exemplar}))
except Exception as error:  # the parser raises ValueError and others on bad input
    print(f"openmetrics_check.py: {error!r}", file=sys.stderr)
    sys.exit(1)
