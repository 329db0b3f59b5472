/// An attribute's value as text for a line: a string's UTF-8 bytes where the span keeps them
/// (valid only during the call that lends them), or the text of any other value.
enum AttributeText {
    case utf8(UnsafeBufferPointer<UInt8>)
    case text(String)
}
