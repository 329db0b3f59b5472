import Foundation
import GRPCCore
import NIOHPACK

/// The HTTP/2 header blocks of gRPC's wire protocol: the request metadata read from a call's
/// headers, and the response's headers and trailers (`grpc-status`, `grpc-message`, trailing
/// metadata).
enum GRPCHeaders {
    /// The headers of every response that carries messages.
    static let response: HPACKHeaders = [":status": "200", "content-type": "application/grpc"]
    /// The trailers of a call that succeeded with no trailing metadata.
    static let ok: HPACKHeaders = ["grpc-status": "0"]

    /// What a call's headers say, read in one pass.
    struct Request {
        var method: String?
        var path: String?
        var contentType: String?
        var encoding: String?
        var timeout: String?
        /// Every header but the pseudo-headers; the values of `-bin` keys base64-decoded (a
        /// value that is not base64 is left out).
        var metadata = Metadata()
    }

    /// Reads a call's headers (HTTP/2 names are lower case; SwiftNIO's validation holds to it).
    static func request(_ headers: HPACKHeaders) -> Request {
        var request = Request()
        request.metadata.reserveCapacity(headers.count)  // one allocation rather than one per doubling
        for (name, value, _) in headers {
            if name.utf8.first == UInt8(ascii: ":") {
                switch name {
                case ":method": request.method = value
                case ":path": request.path = value
                default: break
                }
                continue
            }
            switch name {
            case "content-type": request.contentType = value
            case "grpc-encoding": request.encoding = value
            case "grpc-timeout": request.timeout = value
            default: break
            }
            if name.hasSuffix("-bin") {
                if let bytes = Self.base64Decoded(value) { request.metadata.addBinary(bytes, forKey: name) }
            } else {
                request.metadata.addString(value, forKey: name)
            }
        }
        return request
    }

    /// The trailers that end a call with `code` (and, unless `OK`, `message`), followed by
    /// `metadata`. With `trailersOnly` they are a whole response: the status lines come first.
    static func trailers(
        code: Status.Code,
        message: String,
        metadata: Metadata,
        trailersOnly: Bool,
        httpStatus: Int = 200
    ) -> HPACKHeaders {
        if code == .ok, metadata.isEmpty, !trailersOnly { return Self.ok }
        var headers = HPACKHeaders()
        if trailersOnly {
            headers.add(name: ":status", value: String(httpStatus))
            headers.add(name: "content-type", value: "application/grpc")
        }
        headers.add(name: "grpc-status", value: String(code.rawValue))
        if code != .ok, !message.isEmpty {
            headers.add(name: "grpc-message", value: Self.percentEncoded(message))
        }
        for (key, value) in metadata {
            switch value {
            case .string(let string): headers.add(name: key, value: string)
            case .binary(let bytes): headers.add(name: key, value: Data(bytes).base64EncodedString())
            }
        }
        return headers
    }

    /// `grpc-message`'s encoding: bytes outside printable ASCII, and `%`, as `%XX`.
    static func percentEncoded(_ message: String) -> String {
        let utf8 = message.utf8
        guard utf8.contains(where: { $0 < 0x20 || $0 > 0x7E || $0 == UInt8(ascii: "%") }) else { return message }
        let hex = Array("0123456789ABCDEF".utf8)
        var encoded: [UInt8] = []
        encoded.reserveCapacity(utf8.count * 3)
        for byte in utf8 {
            if byte < 0x20 || byte > 0x7E || byte == UInt8(ascii: "%") {
                encoded.append(UInt8(ascii: "%"))
                encoded.append(hex[Int(byte >> 4)])
                encoded.append(hex[Int(byte & 0x0F)])
            } else {
                encoded.append(byte)
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }

    /// Decodes base64 with or without padding, as gRPC allows for `-bin` values.
    private static func base64Decoded(_ value: String) -> [UInt8]? {
        var padded = value
        let remainder = padded.utf8.count % 4
        if remainder != 0 { padded += String(repeating: "=", count: 4 - remainder) }
        return Data(base64Encoded: padded).map(Array.init)
    }
}
