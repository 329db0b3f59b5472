"""A real gRPC peer for Kite's tests, on Python's grpcio.

Its stubs are generated at start by grpcio-tools from the same .proto files Kite serves
(Examples/addsvc/addsvc.proto -- go-kit's own file --, addstream.proto, and the standard
health.proto), so it calls Kite exactly as a client written against those contracts would.

    grpc_peer.py generate --root REPO --stubs DIR              # the stubs, once, for later runs
    grpc_peer.py call --root REPO --port P --scenario NAME   # one JSON line per result
    grpc_peer.py serve --root REPO                            # "port N", then one JSON line per call
(`call` and `serve` take `--stubs DIR` to reuse stubs generated before.)
"""
import argparse
import importlib
import json
import os
import sys
import tempfile
from concurrent import futures


def generate_stubs(root, out):
    from grpc_tools import protoc
    import grpc_tools

    include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    for directory, files in [
        (os.path.join(root, "Examples", "addsvc"), ["addsvc.proto", "addstream.proto"]),
        (os.path.join(root, "Sources", "KiteGRPC", "Health"), ["health.proto"]),
    ]:
        status = protoc.main(["protoc", f"-I{directory}", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}", *files])
        if status != 0:
            sys.exit(f"protoc failed on {files}")


def load_stubs(root, stubs):
    out = stubs or tempfile.mkdtemp(prefix="kite-grpc-peer-")
    if not os.path.exists(os.path.join(out, "health_pb2_grpc.py")):
        generate_stubs(root, out)
    sys.path.insert(0, out)
    return {name: importlib.import_module(name) for name in [
        "addsvc_pb2", "addsvc_pb2_grpc", "addstream_pb2", "addstream_pb2_grpc", "health_pb2", "health_pb2_grpc"]}


def emit(**fields):
    print(json.dumps(fields), flush=True)


def error_fields(error):
    return {"code": error.code().name, "details": error.details()}


def call(stubs, port, scenario, traceparent):
    import grpc

    pb, pbg = stubs["addsvc_pb2"], stubs["addsvc_pb2_grpc"]
    st, stg = stubs["addstream_pb2"], stubs["addstream_pb2_grpc"]
    hp, hpg = stubs["health_pb2"], stubs["health_pb2_grpc"]
    options = [("grpc.max_send_message_length", 64 << 20)]
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
        add = pbg.AddStub(channel)
        stream = stg.AddStreamStub(channel)
        health = hpg.HealthStub(channel)
        metadata = [("traceparent", traceparent)] if traceparent else None

        def attempt(name, function):
            try:
                emit(scenario=name, ok=True, value=function())
            except grpc.RpcError as error:
                emit(scenario=name, ok=False, **error_fields(error))

        if scenario == "unary":
            attempt("sum", lambda: add.Sum(pb.SumRequest(a=1, b=2), metadata=metadata).v)
            attempt("concat", lambda: add.Concat(pb.ConcatRequest(a="x", b="y")).v)
        elif scenario == "business_errors":
            attempt("overflow", lambda: add.Sum(pb.SumRequest(a=2**63 - 1, b=1)).v)
            attempt("two_zeroes", lambda: add.Sum(pb.SumRequest(a=0, b=0)).v)
            attempt("too_long", lambda: add.Concat(pb.ConcatRequest(a="hello", b="worldwide")).v)
            attempt("empty_range", lambda: [r.v for r in stream.RunningSum(st.RangeRequest(**{"from": 5, "to": 1}))])
        elif scenario == "streaming":
            attempt("server_streaming", lambda: [r.v for r in stream.RunningSum(st.RangeRequest(**{"from": 1, "to": 4}), metadata=metadata)])
            attempt("client_streaming", lambda: stream.SumAll(iter([st.Number(value=v) for v in [1, 2, 3, 4]])).v)
            attempt("bidirectional", lambda: [r.v for r in stream.SumEach(iter([pb.SumRequest(a=i, b=10 * i) for i in [1, 2, 3]]))])
            attempt("stream_error", lambda: [r.v for r in stream.RunningSum(st.RangeRequest(**{"from": 2**62, "to": 2**62 + 3}))])
        elif scenario == "health":
            attempt("overall", lambda: hp.HealthCheckResponse.ServingStatus.Name(health.Check(hp.HealthCheckRequest(service="")).status))
            attempt("pb.Add", lambda: hp.HealthCheckResponse.ServingStatus.Name(health.Check(hp.HealthCheckRequest(service="pb.Add")).status))
            attempt("unknown", lambda: health.Check(hp.HealthCheckRequest(service="no.Such")).status)
            attempt("watch", lambda: hp.HealthCheckResponse.ServingStatus.Name(next(health.Watch(hp.HealthCheckRequest(service=""))).status))
        elif scenario == "hostile":
            unknown = channel.unary_unary("/pb.Add/Nope", request_serializer=pb.SumRequest.SerializeToString,
                                          response_deserializer=pb.SumReply.FromString)
            attempt("unknown_method", lambda: unknown(pb.SumRequest(a=1, b=2)).v)
            unknown_service = channel.unary_unary("/no.Such/Sum", request_serializer=pb.SumRequest.SerializeToString,
                                                  response_deserializer=pb.SumReply.FromString)
            attempt("unknown_service", lambda: unknown_service(pb.SumRequest(a=1, b=2)).v)
            attempt("too_large", lambda: add.Concat(pb.ConcatRequest(a="x" * (5 << 20), b="y")).v)
            garbage = channel.unary_unary("/pb.Add/Sum", request_serializer=lambda _: b"\xff\xff\xff",
                                          response_deserializer=pb.SumReply.FromString)
            attempt("garbage", lambda: garbage(None).v)
            attempt("invalid_utf8", lambda: channel.unary_unary(
                "/pb.Add/Concat", request_serializer=lambda _: b"\x0a\x02\xc3\x28\x12\x01y",
                response_deserializer=pb.ConcatReply.FromString)(None).v)
            attempt("after", lambda: add.Sum(pb.SumRequest(a=40, b=2)).v)
        elif scenario == "deadline":
            attempt("sum", lambda: add.Sum(pb.SumRequest(a=1, b=2), timeout=5).v)
        else:
            sys.exit(f"unknown scenario {scenario}")


def serve(stubs):
    import grpc

    pb, pbg = stubs["addsvc_pb2"], stubs["addsvc_pb2_grpc"]

    class Add(pbg.AddServicer):
        def Sum(self, request, context):
            self.report("Sum", context)
            total = request.a + request.b
            if total > 2**63 - 1 or total < -(2**63):
                context.abort(grpc.StatusCode.OUT_OF_RANGE, "integer overflow")
            return pb.SumReply(v=total)

        def Concat(self, request, context):
            self.report("Concat", context)
            return pb.ConcatReply(v=request.a + request.b)

        @staticmethod
        def report(method, context):
            metadata = {key: value for key, value in context.invocation_metadata()}
            emit(method=method, metadata=metadata, time_remaining=context.time_remaining())

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pbg.add_AddServicer_to_server(Add(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"port {port}", flush=True)
    try:
        sys.stdin.read()  # until the test closes standard input
    finally:
        server.stop(grace=None)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["call", "serve", "generate"])
    parser.add_argument("--stubs", help="a folder of stubs generated earlier (by `generate`) to reuse")
    parser.add_argument("--root", required=True)
    parser.add_argument("--port", type=int)
    parser.add_argument("--scenario")
    parser.add_argument("--traceparent")
    args = parser.parse_args()
    if args.mode == "generate":
        generate_stubs(args.root, args.stubs)
        return
    stubs = load_stubs(args.root, args.stubs)
    if args.mode == "call":
        call(stubs, args.port, args.scenario, args.traceparent)
    else:
        serve(stubs)


if __name__ == "__main__":
    main()
