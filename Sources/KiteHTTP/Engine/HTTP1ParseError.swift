/// Why the bytes of a connection could not be read as HTTP/1 requests. The engine answers each
/// with `400 Bad Request` and closes the connection.
enum HTTP1ParseError: Error, Equatable {
    /// A head (or trailer section) over the configured limit.
    case headTooLarge
    case malformedRequestLine
    /// A version other than HTTP/1.0 and HTTP/1.1.
    case unsupportedVersion
    /// A line ended by LF alone.
    case bareLineFeed
    /// A field line that is not `name: value`, or has bytes a field may not have.
    case malformedField
    case invalidContentLength
    /// A `Transfer-Encoding` other than `chunked`.
    case unsupportedTransferEncoding
    /// `Content-Length` beside `Transfer-Encoding`, or either of them twice.
    case conflictingFraming
    case malformedChunk
}
