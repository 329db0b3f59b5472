"""A NATS peer written with nats-py, the upstream Python client, for Kite's NATS tests.

  nats_peer.py respond URL SUBJECT [QUEUE]
      Answers requests on SUBJECT as addsvc's sum does ({"a":1,"b":2} -> {"v":3}), echoing the
      request's traceparent and Kite-Timeout headers in the answer; two zeroes are refused with
      Kite's error headers. Prints "ready" once the server has the subscription, then serves
      until its standard input closes.
  nats_peer.py request URL SUBJECT JSON [TRACEPARENT]
      Makes one request and prints {"data": ..., "headers": {...}} (or {"error": ...}).
  nats_peer.py bench URL SUBJECT COUNT CONCURRENCY
      Requests on SUBJECT COUNT times, CONCURRENCY at a time, and prints
      {"requests": N, "seconds": S, "per_second": R}.
  nats_peer.py echo URL SUBJECT
      Answers every request with its own payload (the Python side of the round-trip figures).
"""
import asyncio
import json
import sys
import time

import nats


async def respond(url, subject, queue):
    nc = await nats.connect(url)

    async def handler(msg):
        headers = msg.headers or {}
        try:
            body = json.loads(msg.data)
            a, b = int(body["a"]), int(body["b"])
        except Exception as error:  # a malformed request: Kite's error model
            await nc.publish(msg.reply, json.dumps({"error": str(error), "code": "INVALID_ARGUMENT"}).encode(),
                             headers={"Nats-Service-Error": str(error), "Nats-Service-Error-Code": "400",
                                      "Kite-Error-Code": "INVALID_ARGUMENT"})
            return
        if a == 0 and b == 0:
            await nc.publish(msg.reply, b'{"error":"can\'t sum two zeroes","code":"INVALID_ARGUMENT"}',
                             headers={"Nats-Service-Error": "can't sum two zeroes", "Nats-Service-Error-Code": "400",
                                      "Kite-Error-Code": "INVALID_ARGUMENT"})
            return
        answer = {"v": a + b, "traceparent": headers.get("traceparent", ""), "timeout": headers.get("Kite-Timeout", "")}
        await nc.publish(msg.reply, json.dumps(answer).encode())

    await nc.subscribe(subject, queue=queue or "", cb=handler)
    await nc.flush()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await nc.drain()


async def echo(url, subject):
    nc = await nats.connect(url)

    async def handler(msg):
        await msg.respond(msg.data)

    await nc.subscribe(subject, cb=handler)
    await nc.flush()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await nc.drain()


async def request(url, subject, payload, traceparent):
    nc = await nats.connect(url)
    headers = {"traceparent": traceparent} if traceparent else None
    try:
        msg = await nc.request(subject, payload.encode(), timeout=5, headers=headers)
        print(json.dumps({"data": msg.data.decode(), "headers": dict(msg.headers or {})}), flush=True)
    except Exception as error:
        print(json.dumps({"error": type(error).__name__ + ": " + str(error)}), flush=True)
    await nc.close()


async def bench(url, subject, count, concurrency):
    nc = await nats.connect(url)
    payload = b'{"a":1,"b":2}'
    remaining = [count]

    async def worker():
        while remaining[0] > 0:
            remaining[0] -= 1
            await nc.request(subject, payload, timeout=5)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - start
    print(json.dumps({"requests": count, "seconds": seconds, "per_second": count / seconds}), flush=True)
    await nc.close()


def main():
    mode, url, subject = sys.argv[1], sys.argv[2], sys.argv[3]
    if mode == "respond":
        asyncio.run(respond(url, subject, sys.argv[4] if len(sys.argv) > 4 else None))
    elif mode == "echo":
        asyncio.run(echo(url, subject))
    elif mode == "request":
        asyncio.run(request(url, subject, sys.argv[4], sys.argv[5] if len(sys.argv) > 5 else None))
    elif mode == "bench":
        asyncio.run(bench(url, subject, int(sys.argv[4]), int(sys.argv[5])))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
