"""Speaks gRPC's wire protocol by hand — HTTP/2 frames from the `h2` package's state machine,
messages encoded here — to send a Kite gRPC server what no well-behaved client sends, and prints
one JSON line per outcome.

    grpc_wire.py PORT refusals       calls that must be refused, each with its status
    grpc_wire.py PORT backpressure   a client stream whose reader is held: the caller's window
                                     must stay shut until a unary Sum releases the reader
"""
import json
import socket
import struct
import sys

import h2.config
import h2.connection
import h2.events

SUM = "/pb.Add/Sum"
CONCAT = "/pb.Add/Concat"
SUM_ALL = "/kite.addsvc.AddStream/SumAll"


def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def message(payload, compressed=0):
    return struct.pack(">BI", compressed, len(payload)) + payload


def sum_request(a, b):
    return b"\x08" + varint(a) + b"\x10" + varint(b)


def read_varint(data):
    value, shift = 0, 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return value


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.h2.initiate_connection()
        self.next_stream = 1
        self.responses = {}
        self.flush()

    def flush(self):
        self.sock.sendall(self.h2.data_to_send())

    def open(self, path, method="POST", content_type="application/grpc", extra=(), end_stream=False):
        stream = self.next_stream
        self.next_stream += 2
        headers = [(":method", method), (":path", path), (":scheme", "http"), (":authority", "kite"), ("te", "trailers")]
        if content_type:
            headers.append(("content-type", content_type))
        headers += list(extra)
        self.h2.send_headers(stream, headers, end_stream=end_stream)
        self.responses[stream] = {"headers": {}, "data": b"", "ended": False}
        self.flush()
        return stream

    def send(self, stream, data, end_stream=False):
        self.h2.send_data(stream, data, end_stream=end_stream)
        self.flush()

    def receive(self):
        """Reads once and returns the events."""
        data = self.sock.recv(65535)
        if not data:
            raise SystemExit("the server closed the connection")
        events = self.h2.receive_data(data)
        for event in events:
            response = self.responses.get(getattr(event, "stream_id", None))
            if response is None:
                continue
            if isinstance(event, (h2.events.ResponseReceived, h2.events.TrailersReceived)):
                response["headers"].update(dict(event.headers))
            elif isinstance(event, h2.events.DataReceived):
                response["data"] += event.data
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
                response["ended"] = True
        self.flush()
        return events

    def wait(self, stream):
        while not self.responses[stream]["ended"]:
            self.receive()
        return self.responses[stream]

    def ping(self):
        """Sends a PING and returns every event read up to its acknowledgement."""
        self.h2.ping(b"kitewire")
        self.flush()
        seen = []
        while True:
            events = self.receive()
            seen += events
            if any(isinstance(event, h2.events.PingAckReceived) for event in events):
                return seen


def outcome(name, response):
    headers = response["headers"]
    fields = {"scenario": name, "http_status": headers.get(":status"), "grpc_status": headers.get("grpc-status"),
              "grpc_message": headers.get("grpc-message")}
    if len(response["data"]) > 5:
        fields["value"] = read_varint(response["data"][6:])
    print(json.dumps(fields), flush=True)


def refusals(port):
    client = Client(port)
    one = message(sum_request(1, 2))
    calls = [
        ("get", dict(method="GET", end_stream=True), None),
        ("text_plain", dict(content_type="text/plain"), one),
        ("gzip", dict(extra=[("grpc-encoding", "gzip")]), one),
        ("compressed_flag", {}, message(sum_request(1, 2), compressed=1)),
        ("cut_off", {}, struct.pack(">BI", 0, 10) + b"\x08\x01\x10"),
        ("two_messages", {}, one + one),
        ("no_message", dict(end_stream=True), None),
        ("deadline", dict(path=CONCAT, extra=[("grpc-timeout", "100m")]), message(b"\x0a\x01a\x12\x01b")),
        ("sum", {}, one),
    ]
    for name, options, body in calls:
        path = options.pop("path", SUM)
        stream = client.open(path, **options)
        if body is not None:
            client.send(stream, body, end_stream=True)
        outcome(name, client.wait(stream))
    # A call the caller resets: the server must cancel its work (the test watches the endpoint).
    stream = client.open(CONCAT)
    client.send(stream, message(b"\x0a\x01a\x12\x01b"), end_stream=True)
    client.ping()
    client.h2.reset_stream(stream)
    client.flush()
    client.ping()
    print(json.dumps({"scenario": "reset", "sent": True}), flush=True)


def backpressure(port):
    client = Client(port)
    stream = client.open(SUM_ALL)
    number = message(b"\x08\x01")  # Number { value: 1 }
    total, sent = 40000, 0

    def send_what_fits():
        nonlocal sent
        while sent < total:
            room = min(client.h2.local_flow_control_window(stream), client.h2.max_outbound_frame_size)
            count = min(room // len(number), total - sent)
            if count == 0:
                return
            client.send(stream, number * count)
            sent += count

    send_what_fits()
    held_at = sent
    # Everything the server answers to what was sent arrives before the acknowledgement of a
    # PING sent after it: if the reader's window were reopened, its WINDOW_UPDATE is among these.
    events = client.ping()
    reopened = any(isinstance(event, h2.events.WindowUpdated) and event.stream_id == stream for event in events)
    # A Sum releases the reader; the rest then goes as the server reopens the window.
    release = client.open(SUM)
    client.send(release, message(sum_request(40, 2)), end_stream=True)
    client.wait(release)
    while sent < total:
        send_what_fits()
        if sent < total:
            client.receive()
    client.send(stream, b"", end_stream=True)
    response = client.wait(stream)
    print(json.dumps({"scenario": "backpressure", "held_at": held_at, "total": total, "reopened_while_held": reopened,
                      "grpc_status": response["headers"].get("grpc-status"), "value": read_varint(response["data"][6:])}),
          flush=True)


if __name__ == "__main__":
    {"refusals": refusals, "backpressure": backpressure}[sys.argv[2]](int(sys.argv[1]))
