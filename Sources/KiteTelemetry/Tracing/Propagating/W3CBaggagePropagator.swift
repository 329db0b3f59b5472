import Instrumentation

/// The W3C `baggage` header.
///
/// Members that are not `token=value` are skipped; values are percent-decoded on the way in and
/// percent-encoded on the way out. The specification's limits hold: at most 180 members and
/// 8192 bytes of header are read; the rest is ignored, and a member cut by the 8192-byte limit
/// is dropped whole rather than kept truncated.
public struct W3CBaggagePropagator: TracePropagator {
    /// The most members read from one header.
    public static let maxMembers = 180
    /// The most header bytes read.
    public static let maxHeaderBytes = 8192

    /// Creates the propagator.
    public init() {}

    public func extract<Carrier, Extract: Extractor>(
        _ carrier: Carrier,
        into context: inout ServiceContext,
        using extractor: Extract
    ) where Extract.Carrier == Carrier {
        guard let header = extractor.extract(key: "baggage", from: carrier) else { return }
        let baggage = Self.parse(header)
        if !baggage.isEmpty {
            var merged = context.baggage ?? Baggage()
            for entry in baggage.entries { merged.append(entry) }
            context.baggage = merged
        }
    }

    public func inject<Carrier, Inject: Injector>(
        _ context: ServiceContext,
        into carrier: inout Carrier,
        using injector: Inject
    ) where Inject.Carrier == Carrier {
        guard let baggage = context.baggage, !baggage.isEmpty else { return }
        let value = baggage.entries.map { entry in
            var member = entry.key + "=" + Self.percentEncode(entry.value)
            if !entry.properties.isEmpty { member += ";" + entry.properties }
            return member
        }.joined(separator: ",")
        injector.inject(value, forKey: "baggage", into: &carrier)
    }

    /// The first ``maxHeaderBytes`` of `header`, without the member the cut went through: a
    /// member is read whole or not at all.
    static func readablePart(of header: String) -> Substring.UTF8View {
        let bytes = Substring(header).utf8
        guard bytes.count > self.maxHeaderBytes else { return bytes }
        let cut = bytes.index(bytes.startIndex, offsetBy: self.maxHeaderBytes)
        if bytes[cut] == UInt8(ascii: ",") { return bytes[..<cut] }
        let kept = bytes[..<cut]
        return kept[..<(kept.lastIndex(of: UInt8(ascii: ",")) ?? kept.startIndex)]
    }

    /// Parses a `baggage` header value.
    public static func parse(_ header: String) -> Baggage {
        var baggage = Baggage()
        var count = 0
        for member in Self.readablePart(of: header).split(separator: UInt8(ascii: ",")) {
            guard count < self.maxMembers else { break }
            let text = Substring(member)
            let parts = text.split(separator: ";", maxSplits: 1)
            guard let pair = parts.first else { continue }
            let keyValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard keyValue.count == 2 else { continue }
            let key = keyValue[0].trimmingSpaces()
            guard !key.isEmpty, key.utf8.allSatisfy(Self.isTokenByte),
                  let value = Self.percentDecode(keyValue[1].trimmingSpaces())
            else { continue }
            let properties = parts.count > 1 ? String(parts[1].trimmingSpaces()) : ""
            baggage.append(Baggage.Entry(key: String(key), value: value, properties: properties))
            count += 1
        }
        return baggage
    }

    /// RFC 7230 `tchar`.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// Decodes `%XX` escapes; `nil` when an escape is broken, the bytes are not UTF-8, or the
    /// value holds an unescaped byte that `allowing` refuses (by default what a baggage value may
    /// not hold: spaces, `"`, `,`, `;`, `\`, controls).
    static func percentDecode(_ value: Substring, allowing isAllowed: (UInt8) -> Bool = isValueByte) -> String? {
        var bytes = [UInt8]()
        var iterator = value.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(Hex.value(of:)),
                      let low = iterator.next().flatMap(Hex.value(of:))
                else { return nil }
                bytes.append(high << 4 | low)
            } else {
                guard isAllowed(byte) else { return nil }
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// Encodes every byte that is not a `baggage-octet`, and `%` itself.
    static func percentEncode(_ value: String) -> String {
        var bytes = [UInt8]()
        for byte in value.utf8 {
            if Self.isValueByte(byte) && byte != UInt8(ascii: "%") {
                bytes.append(byte)
            } else {
                let digits = Array("0123456789ABCDEF".utf8)
                bytes.append(UInt8(ascii: "%"))
                bytes.append(digits[Int(byte >> 4)])
                bytes.append(digits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `baggage-octet`: `%x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E`.
    static func isValueByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x21, 0x23...0x2B, 0x2D...0x3A, 0x3C...0x5B, 0x5D...0x7E: true
        default: false
        }
    }
}
