/// The call's own fields of a line that Kite's instrumentation writes through
/// ``LogLineTemplate/write(spanContext:fields:)``: keys and values
/// encoded straight into the line, with no `Logger.Metadata` dictionary in between.
///
/// Each field is encoded exactly as the same key and value would be from an event's metadata.
package struct LogLineFields: ~Copyable {
    var writer: LogLineWriter
    var buffer: LineBuffer

    /// A field whose value is a string (quoted or escaped as it needs).
    package mutating func field(_ key: StaticString, _ value: String) {
        self.writer.fixedField(key, value, &self.buffer)
    }

    /// A field whose value is one of Kite's own words (`success`), which never needs quoting
    /// or escaping: copied as it is, without the test a string value takes.
    package mutating func field(_ key: StaticString, plain value: StaticString) {
        self.writer.plainField(key, &self.buffer) { $0.append(value) }
    }

    /// A field whose value is a duration in decimal seconds, as ``SecondsText`` writes it.
    package mutating func seconds(_ key: StaticString, _ duration: Duration) {
        self.writer.plainField(key, &self.buffer) { SecondsText.append(duration, to: &$0) }
    }
}
