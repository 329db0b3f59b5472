import Foundation

/// An independent logfmt reader for the tests: `key=value` pairs separated by spaces; quoted
/// values with `\\`, `\"`, `\n`, `\r`, `\t` and `\uXXXX` escapes.
enum Logfmt {
    struct ParseError: Error, CustomStringConvertible {
        let description: String
    }

    static func parse(_ line: String) throws -> [(String, String)] {
        var pairs: [(String, String)] = []
        var scalars = Array(line.unicodeScalars)[...]
        while !scalars.isEmpty {
            while scalars.first == " " { scalars = scalars.dropFirst() }
            if scalars.isEmpty { break }
            var key = ""
            while let scalar = scalars.first, scalar != "=" {
                guard scalar != " ", scalar != "\"" else { throw ParseError(description: "bad key in \(line)") }
                key.unicodeScalars.append(scalar)
                scalars = scalars.dropFirst()
            }
            guard scalars.first == "=" else { throw ParseError(description: "missing = after \(key)") }
            scalars = scalars.dropFirst()
            var value = ""
            if scalars.first == "\"" {
                scalars = scalars.dropFirst()
                var closed = false
                while let scalar = scalars.first {
                    scalars = scalars.dropFirst()
                    if scalar == "\"" { closed = true; break }
                    if scalar == "\\" {
                        guard let escaped = scalars.first else { throw ParseError(description: "dangling escape") }
                        scalars = scalars.dropFirst()
                        switch escaped {
                        case "\\": value += "\\"
                        case "\"": value += "\""
                        case "n": value += "\n"
                        case "r": value += "\r"
                        case "t": value += "\t"
                        case "u":
                            let hex = String(String.UnicodeScalarView(scalars.prefix(4)))
                            scalars = scalars.dropFirst(4)
                            guard let code = UInt32(hex, radix: 16), let decoded = Unicode.Scalar(code) else {
                                throw ParseError(description: "bad \\u escape")
                            }
                            value.unicodeScalars.append(decoded)
                        default: throw ParseError(description: "unknown escape \\\(escaped)")
                        }
                    } else {
                        guard scalar.value >= 0x20, scalar.value != 0x7F else {
                            throw ParseError(description: "raw control character in quoted value")
                        }
                        value.unicodeScalars.append(scalar)
                    }
                }
                guard closed else { throw ParseError(description: "unterminated quote in \(line)") }
            } else {
                while let scalar = scalars.first, scalar != " " {
                    guard scalar != "\"", scalar != "=" else { throw ParseError(description: "unquoted special in \(line)") }
                    value.unicodeScalars.append(scalar)
                    scalars = scalars.dropFirst()
                }
            }
            pairs.append((key, value))
        }
        return pairs
    }
}
