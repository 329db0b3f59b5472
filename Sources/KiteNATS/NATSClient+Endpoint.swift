import Kite

extension NATSClient {
    /// Requests on `subject` as an endpoint, with `codec` between the endpoint's types and
    /// NATS — go-kit's NATS publisher.
    ///
    /// Each call carries the caller's trace context and the time left before its deadline
    /// (`Kite-Timeout`) in the request's headers. An error the responder answered with comes
    /// back as a ``RemoteError`` (or the service's own error, see
    /// ``NATSRequestOptions/decodeError``); a call that got no reply as a ``NATSError``
    /// (`DEADLINE_EXCEEDED` for a timeout, `UNAVAILABLE` for no responders).
    public func endpoint<Request: Sendable, Response: Sendable>(
        _ subject: String,
        codec: NATSClientCodec<Request, Response>,
        options: NATSRequestOptions = .init()
    ) -> Endpoint<Request, Response> {
        let instrumentation = self.instrumentation
        let instruments = instrumentation.subject(subject)
        return Endpoint { request in
            try await instrumentation.request(instruments, timeout: options.timeout) { headers, timeout in
                let reply = try await self.request(try codec.encode(request), to: subject, headers: headers, timeout: timeout)
                if let remote = NATSErrorHeaders.remoteError(in: reply) { throw options.decodeError(remote) }
                return try codec.decode(reply)
            }
        }
    }

    /// Requests on `subject` as an endpoint: JSON out, JSON in.
    public func endpoint<Request: Encodable & Sendable, Response: Decodable & Sendable>(
        _ subject: String,
        as response: Response.Type = Response.self,
        options: NATSRequestOptions = .init()
    ) -> Endpoint<Request, Response> {
        self.endpoint(subject, codec: .json, options: options)
    }
}
