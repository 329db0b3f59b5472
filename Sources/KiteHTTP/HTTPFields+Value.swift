import HTTPTypes

extension HTTPFields {
    /// The value of the fields named `name`, joined as swift-http-types' `fields[name]` joins
    /// them (`, `, or `; ` for cookies), or `nil` without any.
    ///
    /// The subscript joins through a generic, unspecialised `joined(separator:)` that instantiates
    /// type metadata at run time: about 70 ns a lookup, and a request takes several. Here the
    /// usual single field costs a scan of the few fields a request has.
    func value(of name: HTTPField.Name) -> String? {
        var value: String?
        for field in self where field.name == name {
            if let earlier = value {
                value = earlier + (name == .cookie ? "; " : ", ") + field.value
            } else {
                value = field.value
            }
        }
        return value
    }
}
