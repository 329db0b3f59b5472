import HTTPTypes
import NIOCore
import NIOHTTP1

/// Reads HTTP/1.x requests (RFC 9112) from a connection's bytes, straight into swift-http-types'
/// request parts: no intermediate `HTTPRequestHead` or `HTTPHeaders`, and a body's bytes handed on
/// as slices of the buffer they arrived in.
///
/// It is strict where leniency lets two readers disagree about where a request ends: lines end
/// with CRLF (a bare CR or LF is an error), a field line may not be folded or have space before
/// its colon, field values carry no control characters but tab, `Content-Length` is digits alone
/// and may appear once, `Transfer-Encoding` may only be `chunked` and never beside a
/// `Content-Length`, and the version is `HTTP/1.0` or `HTTP/1.1`. Empty lines before a request
/// line are skipped (RFC 9112 §2.2). A request's head — its request line and field lines with their
/// line ends — may take at most `maxHeadSize` bytes, and so may a chunked body's trailer section.
/// A request without `Content-Length` or `Transfer-Encoding` has no body. After an error the
/// parser reads nothing more: the connection's stream can no longer be trusted.
struct HTTP1RequestParser {
    /// A request's head and what the answer needs of it.
    struct Head {
        var request: HTTPRequest
        var version: HTTPVersion
        /// Whether the connection may carry another request after this one's answer.
        var keepAlive: Bool
    }

    /// One piece of a request, in the order of the stream.
    enum Part {
        case head(Head)
        /// Some of the body's bytes (never empty).
        case body(ByteBuffer)
        /// The end of the request, with a chunked body's trailer fields when it had any.
        case end(HTTPFields?)
    }

    private enum State {
        /// Waiting for a request's head.
        case head
        /// Reading a body of known length: `remaining` bytes to go (`0`: the end is due).
        case fixedBody(remaining: Int)
        /// Waiting for a chunk's size line.
        case chunkSize
        case chunkData(remaining: Int)
        /// Waiting for the CRLF after a chunk's data.
        case chunkEnd
        /// Waiting for the trailer section after the last chunk.
        case trailers
        case failed
    }

    private enum Framing {
        case none
        case length(Int)
        case chunked
    }

    /// The most bytes a head or a trailer section may take.
    let maxHeadSize: Int
    private var state = State.head
    /// How many bytes at the buffer's start are known not to hold the end of the head (or
    /// trailer section) being waited for: a head that arrives in many reads is searched once.
    private var searched = 0

    /// The longest chunk-size line read (with extensions).
    private static let maxChunkLine = 4096
    /// Fields a request's head is given room for before parsing (besides `Host`), rather than an
    /// array grown field by field: an API client's few fit, a browser's dozen grows it once.
    private static let usualFieldCount = 8

    init(maxHeadSize: Int) {
        self.maxHeadSize = maxHeadSize
    }

    /// The next part readable from `buffer`, consuming its bytes; `nil` when more bytes are needed.
    mutating func next(_ buffer: inout ByteBuffer) throws(HTTP1ParseError) -> Part? {
        do {
            return try self.step(&buffer)
        } catch {
            self.state = .failed
            throw error
        }
    }

    private mutating func step(_ buffer: inout ByteBuffer) throws(HTTP1ParseError) -> Part? {
        while true {
            switch self.state {
            case .failed:
                return nil
            case .head:
                self.skipEmptyLines(&buffer)
                guard let end = try self.endOfSection(in: buffer) else { return nil }
                let (head, framing) = try buffer.withUnsafeReadableBytes { bytes throws(HTTP1ParseError) in
                    try Self.parseHead(UnsafeRawBufferPointer(rebasing: bytes[..<end]))
                }
                buffer.moveReaderIndex(forwardBy: end)
                switch framing {
                case .none: self.state = .fixedBody(remaining: 0)
                case .length(let length): self.state = .fixedBody(remaining: length)
                case .chunked: self.state = .chunkSize
                }
                return .head(head)
            case .fixedBody(let remaining):
                if remaining == 0 {
                    self.state = .head
                    return .end(nil)
                }
                guard let slice = buffer.readSlice(length: min(remaining, buffer.readableBytes)), slice.readableBytes > 0 else {
                    return nil
                }
                self.state = .fixedBody(remaining: remaining - slice.readableBytes)
                return .body(slice)
            case .chunkSize:
                guard let (size, lineLength) = try Self.chunkSize(in: buffer) else { return nil }
                buffer.moveReaderIndex(forwardBy: lineLength)
                self.state = size == 0 ? .trailers : .chunkData(remaining: size)
            case .chunkData(let remaining):
                guard let slice = buffer.readSlice(length: min(remaining, buffer.readableBytes)), slice.readableBytes > 0 else {
                    return nil
                }
                let left = remaining - slice.readableBytes
                self.state = left == 0 ? .chunkEnd : .chunkData(remaining: left)
                return .body(slice)
            case .chunkEnd:
                guard buffer.readableBytes >= 2 else { return nil }
                guard buffer.readInteger(as: UInt16.self) == Self.crlf else { throw .malformedChunk }
                self.state = .chunkSize
            case .trailers:
                if buffer.readableBytes >= 2, buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) == Self.crlf {
                    buffer.moveReaderIndex(forwardBy: 2)
                    self.state = .head
                    return .end(nil)
                }
                guard let end = try self.endOfSection(in: buffer) else { return nil }
                let trailers = try buffer.withUnsafeReadableBytes { bytes throws(HTTP1ParseError) in
                    var fields = HTTPFields()
                    var framing = FramingFields()
                    try Self.parseFields(UnsafeRawBufferPointer(rebasing: bytes[..<end]), from: 0, into: &fields, framing: &framing, isHead: false)
                    return fields
                }
                buffer.moveReaderIndex(forwardBy: end)
                self.state = .head
                return .end(trailers)
            }
        }
    }

    /// CR LF, as `readInteger` reads it (big endian).
    private static let crlf: UInt16 = 0x0D0A

    private mutating func skipEmptyLines(_ buffer: inout ByteBuffer) {
        while buffer.readableBytes >= 2, buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) == Self.crlf {
            buffer.moveReaderIndex(forwardBy: 2)
            self.searched = 0
        }
    }

    /// The length of the section (head or trailers) at the buffer's start, up to and with the
    /// empty line that ends it; `nil` when it has not all arrived.
    private mutating func endOfSection(in buffer: ByteBuffer) throws(HTTP1ParseError) -> Int? {
        let start = max(0, self.searched - 3)
        let found = try buffer.withUnsafeReadableBytes { bytes throws(HTTP1ParseError) -> Int? in
            var index = start
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: "\n") {
                    guard index > 0, bytes[index - 1] == UInt8(ascii: "\r") else { throw .bareLineFeed }
                    if index >= 3, bytes[index - 2] == UInt8(ascii: "\n") { return index + 1 }
                }
                index += 1
            }
            return nil
        }
        guard let found else {
            self.searched = buffer.readableBytes
            if buffer.readableBytes > self.maxHeadSize { throw .headTooLarge }
            return nil
        }
        self.searched = 0
        if found > self.maxHeadSize { throw .headTooLarge }
        return found
    }

    /// A chunk's size and the length of its size line with the CRLF; `nil` when the line has not
    /// all arrived.
    private static func chunkSize(in buffer: ByteBuffer) throws(HTTP1ParseError) -> (Int, Int)? {
        try buffer.withUnsafeReadableBytes { bytes throws(HTTP1ParseError) -> (Int, Int)? in
            guard let lineFeed = bytes.prefix(Self.maxChunkLine).firstIndex(of: UInt8(ascii: "\n")) else {
                if bytes.count >= Self.maxChunkLine { throw .malformedChunk }
                return nil
            }
            guard lineFeed > 0, bytes[lineFeed - 1] == UInt8(ascii: "\r") else { throw .malformedChunk }
            let line = bytes[..<(lineFeed - 1)]
            var size = 0
            var index = line.startIndex
            while index < line.endIndex, let digit = Self.hexValue(line[index]) {
                // 15 hex digits hold any size an Int can count.
                guard index - line.startIndex < 15 else { throw .malformedChunk }
                size = size << 4 | digit
                index += 1
            }
            guard index > line.startIndex else { throw .malformedChunk }
            // chunk-ext, which is not read: *( ";" token [ "=" ( token / quoted-string ) ] ). The
            // whitespace RFC 9112 tolerates around ";" and "=" is refused, as llhttp refuses it.
            guard Self.isChunkExtensions(UnsafeRawBufferPointer(rebasing: line[index...])) else { throw .malformedChunk }
            return (size, lineFeed + 1)
        }
    }

    private static func isChunkExtensions(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        func token() -> Bool {
            let start = index
            while index < bytes.count, Self.isTokenByte(bytes[index]) { index += 1 }
            return index > start
        }
        while index < bytes.count {
            guard bytes[index] == UInt8(ascii: ";") else { return false }
            index += 1
            guard token() else { return false }
            guard index < bytes.count, bytes[index] == UInt8(ascii: "=") else { continue }
            index += 1
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                guard token() else { return false }
                continue
            }
            // quoted-string: qdtext or a backslash and the byte it quotes, up to the closing quote.
            index += 1
            while true {
                guard index < bytes.count else { return false }
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") { break }
                if byte == UInt8(ascii: "\\") {
                    index += 1
                    guard index < bytes.count, Self.isFieldValueByte(bytes[index]) else { return false }
                } else if !Self.isFieldValueByte(byte) {
                    return false
                }
                index += 1
            }
            index += 1
        }
        return true
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    // MARK: - The head

    /// What the framing fields of a section said.
    private struct FramingFields {
        var contentLength: Int?
        var chunked = false
        var close = false
        var keepAlive = false
        /// The head's `Host`, which becomes the request's authority rather than a field.
        var host: String?
    }

    /// Parses a whole head, from its request line to the empty line that ends it.
    private static func parseHead(_ bytes: UnsafeRawBufferPointer) throws(HTTP1ParseError) -> (Head, Framing) {
        // The request line: method SP request-target SP HTTP-version CRLF.
        guard let methodEnd = bytes.firstIndex(of: UInt8(ascii: " ")), methodEnd > 0 else { throw .malformedRequestLine }
        let methodBytes = UnsafeRawBufferPointer(rebasing: bytes[..<methodEnd])
        guard methodBytes.allSatisfy(Self.isTokenByte) else { throw .malformedRequestLine }
        let targetStart = methodEnd + 1
        var targetEnd = targetStart
        while targetEnd < bytes.count, Self.isTargetByte(bytes[targetEnd]) { targetEnd += 1 }
        guard targetEnd > targetStart, targetEnd < bytes.count, bytes[targetEnd] == UInt8(ascii: " ") else {
            throw .malformedRequestLine
        }
        // HTTP-version CR LF: "HTTP/" DIGIT "." DIGIT, of which 1.0 and 1.1 are read.
        let versionStart = targetEnd + 1
        guard bytes.count >= versionStart + 10, bytes[versionStart + 8] == UInt8(ascii: "\r"), bytes[versionStart + 9] == UInt8(ascii: "\n") else {
            throw .malformedRequestLine
        }
        let version = UnsafeRawBufferPointer(rebasing: bytes[versionStart..<(versionStart + 8)])
        guard version.starts(with: "HTTP/".utf8), Self.isDigit(version[5]), version[6] == UInt8(ascii: "."), Self.isDigit(version[7]) else {
            throw .malformedRequestLine
        }
        guard version[5] == UInt8(ascii: "1"), version[7] <= UInt8(ascii: "1") else { throw .unsupportedVersion }
        let minor = Int(version[7] - UInt8(ascii: "0"))

        var fields = HTTPFields()
        fields.reserveCapacity(Self.usualFieldCount)
        var framing = FramingFields()
        try Self.parseFields(bytes, from: versionStart + 10, into: &fields, framing: &framing, isHead: true)
        if framing.chunked && framing.contentLength != nil { throw .conflictingFraming }

        let method = try Self.method(methodBytes)
        let target = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[targetStart..<targetEnd]), as: UTF8.self)
        let request: HTTPRequest
        let host = framing.host
        if bytes[targetStart] == UInt8(ascii: "/") {
            request = HTTPRequest(method: method, scheme: "http", authority: host, path: target, headerFields: fields)
        } else if method == .connect {
            // Authority form: the tunnel's destination.
            request = HTTPRequest(method: method, scheme: nil, authority: target, path: nil, headerFields: fields)
        } else if target == "*" {
            request = HTTPRequest(method: method, scheme: "http", authority: host, path: target, headerFields: fields)
        } else {
            request = try Self.absoluteForm(target, method: method, fields: fields)
        }
        let keepAlive = minor == 1 ? !framing.close : framing.keepAlive && !framing.close
        let head = Head(request: request, version: HTTPVersion(major: 1, minor: minor), keepAlive: keepAlive)
        let bodyFraming: Framing =
            if framing.chunked { .chunked } else if let length = framing.contentLength { .length(length) } else { .none }
        return (head, bodyFraming)
    }

    /// A request whose target is in absolute form, `scheme://authority/path?query`.
    private static func absoluteForm(_ target: String, method: HTTPRequest.Method, fields: HTTPFields) throws(HTTP1ParseError) -> HTTPRequest {
        let utf8 = target.utf8
        guard let colon = utf8.firstIndex(of: UInt8(ascii: ":")), colon > utf8.startIndex,
            utf8[colon...].starts(with: "://".utf8),
            utf8[..<colon].allSatisfy({ Self.isTokenByte($0) && $0 != UInt8(ascii: "*") })
        else { throw .malformedRequestLine }
        let rest = utf8[utf8.index(colon, offsetBy: 3)...]
        let pathStart = rest.firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") } ?? rest.endIndex
        guard pathStart > rest.startIndex else { throw .malformedRequestLine }
        let path = String(Substring(rest[pathStart...]))
        return HTTPRequest(
            method: method,
            scheme: String(Substring(utf8[..<colon])),
            authority: String(Substring(rest[..<pathStart])),
            path: path.isEmpty ? "/" : path.first == "?" ? "/" + path : path,
            headerFields: fields
        )
    }

    /// Parses field lines from `start` up to the empty line that ends `bytes`.
    private static func parseFields(
        _ bytes: UnsafeRawBufferPointer,
        from start: Int,
        into fields: inout HTTPFields,
        framing: inout FramingFields,
        isHead: Bool
    ) throws(HTTP1ParseError) {
        var lineStart = start
        // The section ends with CR LF CR LF: the last line is empty.
        let end = bytes.count - 2
        while lineStart < end {
            // Each line ends with CR LF; a bare CR anywhere is refused below (not a value byte).
            var colon = lineStart
            while colon < end, Self.isTokenByte(bytes[colon]) { colon += 1 }
            // No name, a space before the colon, or a folded line (starting with a space).
            guard colon > lineStart, colon < end, bytes[colon] == UInt8(ascii: ":") else { throw .malformedField }
            let valueStart = colon + 1
            var lineEnd = valueStart
            while lineEnd < end, bytes[lineEnd] != UInt8(ascii: "\r") {
                guard Self.isFieldValueByte(bytes[lineEnd]) else { throw .malformedField }
                lineEnd += 1
            }
            guard lineEnd + 1 < bytes.count, bytes[lineEnd] == UInt8(ascii: "\r"), bytes[lineEnd + 1] == UInt8(ascii: "\n") else {
                throw .malformedField
            }
            let name = UnsafeRawBufferPointer(rebasing: bytes[lineStart..<colon])
            let value = Self.trimmingWhitespace(UnsafeRawBufferPointer(rebasing: bytes[valueStart..<lineEnd]))
            if isHead && name.count == 4 && Self.equalsIgnoringCase(name, "host") {
                // The request's authority, as SwiftNIO's conversion and HTTP/2 have it; a second
                // one could name another origin (RFC 9112 §3.2: answered 400).
                guard framing.host == nil else { throw .malformedField }
                framing.host = String(decoding: value, as: UTF8.self)
                lineStart = lineEnd + 2
                continue
            }
            try Self.readFraming(name: name, value: value, into: &framing)
            guard let fieldName = Self.fieldName(name) else { throw .malformedField }
            fields.append(HTTPField(name: fieldName, value: String(decoding: value, as: UTF8.self)))
            lineStart = lineEnd + 2
        }
    }

    /// Notes what `Content-Length`, `Transfer-Encoding` and `Connection` say.
    private static func readFraming(
        name: UnsafeRawBufferPointer,
        value: UnsafeRawBufferPointer,
        into framing: inout FramingFields
    ) throws(HTTP1ParseError) {
        switch name.count {
        case 14 where Self.equalsIgnoringCase(name, "content-length"):
            // Digits alone, once: a list or a repeat could be read differently by another hop.
            guard framing.contentLength == nil else { throw .conflictingFraming }
            guard !value.isEmpty, value.count <= 18, value.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                throw .invalidContentLength
            }
            framing.contentLength = value.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        case 17 where Self.equalsIgnoringCase(name, "transfer-encoding"):
            guard !framing.chunked else { throw .conflictingFraming }
            guard Self.equalsIgnoringCase(value, "chunked") else { throw .unsupportedTransferEncoding }
            framing.chunked = true
        case 10 where Self.equalsIgnoringCase(name, "connection"):
            for option in value.split(separator: UInt8(ascii: ",")) {
                let token = Self.trimmingWhitespace(UnsafeRawBufferPointer(rebasing: option))
                if Self.equalsIgnoringCase(token, "close") { framing.close = true }
                if Self.equalsIgnoringCase(token, "keep-alive") { framing.keepAlive = true }
            }
        default:
            break
        }
    }

    /// The names most requests carry, as swift-http-types declares them: matched on the exact
    /// bytes so that a field keeps the spelling it was sent with.
    private static let commonNames: [HTTPField.Name] = [
        .contentLength, .contentType, .userAgent, .accept, .acceptEncoding, .connection,
    ]

    private static func fieldName(_ bytes: UnsafeRawBufferPointer) -> HTTPField.Name? {
        for name in Self.commonNames where name.rawName.utf8.elementsEqual(bytes) { return name }
        return HTTPField.Name(String(decoding: bytes, as: UTF8.self))
    }

    private static func method(_ bytes: UnsafeRawBufferPointer) throws(HTTP1ParseError) -> HTTPRequest.Method {
        switch bytes.count {
        case 3 where bytes.elementsEqual("GET".utf8): return .get
        case 4 where bytes.elementsEqual("POST".utf8): return .post
        case 3 where bytes.elementsEqual("PUT".utf8): return .put
        case 6 where bytes.elementsEqual("DELETE".utf8): return .delete
        case 4 where bytes.elementsEqual("HEAD".utf8): return .head
        default:
            guard let method = HTTPRequest.Method(String(decoding: bytes, as: UTF8.self)) else { throw .malformedRequestLine }
            return method
        }
    }

    /// `bytes` without the spaces and tabs around them.
    private static func trimmingWhitespace(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == UInt8(ascii: " ") || bytes[start] == UInt8(ascii: "\t") { start += 1 }
        while end > start, bytes[end - 1] == UInt8(ascii: " ") || bytes[end - 1] == UInt8(ascii: "\t") { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }

    /// Whether `bytes` spell `lowercase` in any case (`lowercase` is lowercase ASCII).
    private static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = UnsafeRawBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        for index in 0..<bytes.count {
            let byte = bytes[index]
            let folded = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
            if folded != expected[index] { return false }
        }
        return true
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// tchar (RFC 9110 §5.6.2).
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
            UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    /// A request target's bytes: visible ASCII (a URI has no others; RFC 3986).
    private static func isTargetByte(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x7F
    }

    /// field-vchar, space and tab (RFC 9110 §5.5): no control characters but tab.
    private static func isFieldValueByte(_ byte: UInt8) -> Bool {
        byte >= 0x20 ? byte != 0x7F : byte == UInt8(ascii: "\t")
    }
}
