import NIOCore

/// ZooKeeper's serialization (Jute): big-endian integers, a byte for a boolean, strings and byte
/// buffers with an `Int32` length (-1: null), vectors with an `Int32` count.
extension ByteBuffer {
    mutating func writeJuteBool(_ value: Bool) {
        self.writeInteger(UInt8(value ? 1 : 0))
    }

    mutating func writeJuteString(_ value: String) {
        let bytes = Array(value.utf8)
        self.writeInteger(Int32(bytes.count))
        self.writeBytes(bytes)
    }

    mutating func writeJuteBuffer(_ value: [UInt8]) {
        self.writeInteger(Int32(value.count))
        self.writeBytes(value)
    }

    mutating func writeJuteStrings(_ values: [String]) {
        self.writeInteger(Int32(values.count))
        for value in values { self.writeJuteString(value) }
    }

    mutating func readJuteInt32() throws -> Int32 {
        guard let value = self.readInteger(as: Int32.self) else { throw ZooKeeperError.malformed("a message ends inside an int") }
        return value
    }

    mutating func readJuteInt64() throws -> Int64 {
        guard let value = self.readInteger(as: Int64.self) else { throw ZooKeeperError.malformed("a message ends inside a long") }
        return value
    }

    mutating func readJuteBuffer() throws -> [UInt8] {
        let length = try self.readJuteInt32()
        if length == -1 { return [] }
        guard length >= 0, let bytes = self.readBytes(length: Int(length)) else {
            throw ZooKeeperError.malformed("a buffer of \(length) bytes in a message of \(self.readableBytes) left")
        }
        return bytes
    }

    mutating func readJuteString() throws -> String {
        String(decoding: try self.readJuteBuffer(), as: UTF8.self)
    }

    mutating func readJuteStrings() throws -> [String] {
        let count = try self.readJuteInt32()
        // Each string takes at least its 4-byte length: a count beyond that is a lie.
        guard count >= 0, Int(count) <= self.readableBytes / 4 else {
            throw ZooKeeperError.malformed("a vector of \(count) strings in \(self.readableBytes) bytes")
        }
        return try (0..<count).map { _ in try self.readJuteString() }
    }
}
