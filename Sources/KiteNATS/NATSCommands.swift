import NIOCore

/// The client's side of the NATS protocol, written straight into a buffer.
extension ByteBuffer {
    /// `PUB`, or `HPUB` when there are headers. The caller has checked the subjects.
    /// - Returns: The size of the message as `max_payload` counts it: headers and payload.
    /// - Throws: ``NATSError/invalidHeader(name:)``, leaving the buffer as it was.
    @discardableResult
    mutating func writeNATSPublish(
        subject: String,
        replyTo: String?,
        headers: NATSHeaders?,
        payload: ByteBuffer
    ) throws(NATSError) -> Int {
        guard let headers, !headers.isEmpty else {
            self.writeStaticString("PUB ")
            self.writeString(subject)
            if let replyTo {
                self.writeStaticString(" ")
                self.writeString(replyTo)
            }
            self.writeStaticString(" ")
            self.writeDecimal(payload.readableBytes)
            self.writeStaticString("\r\n")
            self.writeImmutableBuffer(payload)
            self.writeStaticString("\r\n")
            return payload.readableBytes
        }
        var block = ByteBuffer()
        try headers.write(to: &block)
        self.writeStaticString("HPUB ")
        self.writeString(subject)
        if let replyTo {
            self.writeStaticString(" ")
            self.writeString(replyTo)
        }
        self.writeStaticString(" ")
        self.writeDecimal(block.readableBytes)
        self.writeStaticString(" ")
        self.writeDecimal(block.readableBytes + payload.readableBytes)
        self.writeStaticString("\r\n")
        self.writeImmutableBuffer(block)
        self.writeImmutableBuffer(payload)
        self.writeStaticString("\r\n")
        return block.readableBytes + payload.readableBytes
    }

    /// `SUB <subject> [queue] <sid>`.
    mutating func writeNATSSubscribe(subject: String, queue: String?, sid: Int) {
        self.writeStaticString("SUB ")
        self.writeString(subject)
        if let queue {
            self.writeStaticString(" ")
            self.writeString(queue)
        }
        self.writeStaticString(" ")
        self.writeDecimal(sid)
        self.writeStaticString("\r\n")
    }

    /// `UNSUB <sid> [max]`.
    mutating func writeNATSUnsubscribe(sid: Int, after max: Int? = nil) {
        self.writeStaticString("UNSUB ")
        self.writeDecimal(sid)
        if let max {
            self.writeStaticString(" ")
            self.writeDecimal(max)
        }
        self.writeStaticString("\r\n")
    }

    /// A non-negative integer in decimal, without making a string.
    mutating func writeDecimal(_ value: Int) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for 24 digits, written from the end
        withUnsafeMutableBytes(of: &digits) { storage in
            var index = storage.count
            var rest = value.magnitude
            repeat {
                index -= 1
                storage[index] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            } while rest > 0
            self.writeBytes(UnsafeRawBufferPointer(rebasing: storage[index...]))
        }
    }
}
