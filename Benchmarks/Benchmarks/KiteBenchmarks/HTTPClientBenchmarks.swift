import AsyncHTTPClient
import Benchmark
import Kite
import KiteHTTP
import KiteTelemetry
import NIOCore
import NIOHTTP1
import NIOPosix

/// What a call costs from the caller's side: one request at a time, so the figure is latency.
func clientCall() -> Benchmark.Configuration {
    .init(metrics: [.wallClock, .mallocCountTotal], scalingFactor: .one, maxDuration: .seconds(5), maxIterations: 20_000)
}

func httpClientBenchmarks() {
    guard let server = try? LocalHTTPServer(answer: #"{"v":3}"#, contentType: "application/json") else { return }
    let url = "http://127.0.0.1:\(server.port)/sum"
    let body = ByteBuffer(string: #"{"a":1,"b":2}"#)

    let bare = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: HTTPClientTransport.defaultConfiguration)
    Benchmark("HTTP client: a bare AsyncHTTPClient call (POST, answer collected)", configuration: clientCall()) { benchmark in
        for _ in benchmark.scaledIterations {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(body)
            let response = try await bare.execute(request, timeout: .seconds(30))
            blackHole(try await response.body.collect(upTo: 1 << 20))
        }
    }

    // The same bytes through Kite's client endpoint: trace headers injected, a sampled client
    // span into a discarding exporter, the duration histogram, the deadline check.
    let telemetry = makeTelemetry(sampler: ConstantSampler.alwaysOn, logLevel: .info)
    Task { try await telemetry.run() }
    let transport = HTTPClientTransport(telemetry: telemetry)
    let raw = transport.endpoint(.post, url, codec: HTTPClientCodec<ByteBuffer, ByteBuffer>(
        encode: { bytes, request in
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(bytes)
        },
        decode: { _, answer in answer }
    ))
    Benchmark("HTTP client: the same call through HTTPClientTransport (span sampled, metrics)", configuration: clientCall()) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try await raw(body))
        }
    }

    struct SumRequest: Codable, Sendable { var a: Int, b: Int }
    struct SumResponse: Codable, Sendable { var v: Int }
    let json: Endpoint<SumRequest, SumResponse> = transport.post(url)
    Benchmark("HTTP client: a JSON endpoint through HTTPClientTransport (Foundation's coders too)", configuration: clientCall()) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try await json(SumRequest(a: 1, b: 2)))
        }
    }
}
