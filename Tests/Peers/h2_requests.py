"""Sends GET requests one after another on a single cleartext HTTP/2 connection (prior
knowledge), with the `h2` package's protocol state machine, and prints `path status` per answer.

    h2_requests.py PORT PATH...
"""
import socket
import sys

import h2.connection
import h2.events


def main():
    port, paths = int(sys.argv[1]), sys.argv[2:]
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    connection = h2.connection.H2Connection()
    connection.initiate_connection()
    sock.sendall(connection.data_to_send())
    for index, path in enumerate(paths):
        stream = 1 + 2 * index
        connection.send_headers(stream, [(":method", "GET"), (":path", path), (":scheme", "http"), (":authority", "kite")], end_stream=True)
        sock.sendall(connection.data_to_send())
        ended = False
        while not ended:
            data = sock.recv(65535)
            if not data:
                sys.exit(f"connection closed before {path} was answered")
            for event in connection.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived) and event.stream_id == stream:
                    print(path, dict(event.headers)[b":status"].decode(), flush=True)
                if isinstance(event, h2.events.StreamEnded) and event.stream_id == stream:
                    ended = True
            sock.sendall(connection.data_to_send())
    sock.close()


if __name__ == "__main__":
    main()
