#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 whose connections a test can cut: `tcp_proxy.py --upstream H:P`.

It prints `listening PORT`, then forwards every connection to the upstream. Commands on standard
input, each acknowledged on standard output:
- `cut`: closes every forwarded connection, and closes new ones at once until `resume` (the
  upstream looks unreachable, though it still runs);
- `resume`: forwards new connections again.
"""
import socket
import sys
import threading

lock = threading.Lock()
state = {"cut": False, "connections": []}


def pump(source, target):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    for s in (source, target):
        try:
            s.close()
        except OSError:
            pass


def serve(listener, upstream):
    while True:
        client, _ = listener.accept()
        with lock:
            if state["cut"]:
                client.close()
                continue
        try:
            server = socket.create_connection(upstream)
        except OSError:
            client.close()
            continue
        with lock:
            state["connections"] += [client, server]
        threading.Thread(target=pump, args=(client, server), daemon=True).start()
        threading.Thread(target=pump, args=(server, client), daemon=True).start()


def main():
    host, port = sys.argv[sys.argv.index("--upstream") + 1].rsplit(":", 1)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    threading.Thread(target=serve, args=(listener, (host, int(port))), daemon=True).start()
    print("listening %d" % listener.getsockname()[1], flush=True)
    for line in sys.stdin:
        command = line.strip()
        with lock:
            if command == "cut":
                state["cut"] = True
                for s in state["connections"]:
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                        s.close()
                    except OSError:
                        pass
                state["connections"] = []
            elif command == "resume":
                state["cut"] = False
        print("%s ok" % command, flush=True)


if __name__ == "__main__":
    main()
