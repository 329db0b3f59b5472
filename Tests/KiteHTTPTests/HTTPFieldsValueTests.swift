import HTTPTypes
@testable import KiteHTTP
import Testing

@Suite("Header field values")
struct HTTPFieldsValueTests {
    @Test("value(of:) gives what swift-http-types' subscript gives: nil, one value, repeated fields joined, cookies with '; '")
    func sameAsSubscript() throws {
        let tenant = try #require(HTTPField.Name("X-Tenant"))
        var fields: HTTPFields = [.accept: "application/json", .userAgent: "curl/8"]
        fields.append(HTTPField(name: .acceptEncoding, value: "gzip"))
        fields.append(HTTPField(name: .acceptEncoding, value: "br"))
        fields.append(HTTPField(name: .cookie, value: "a=1"))
        fields.append(HTTPField(name: .cookie, value: "b=2"))
        fields.append(HTTPField(name: tenant, value: ""))
        for name in [HTTPField.Name.accept, .userAgent, .acceptEncoding, .cookie, tenant, .contentLength, .traceparent] {
            #expect(fields.value(of: name) == fields[name], "\(name)")
        }
        #expect(fields.value(of: .acceptEncoding) == "gzip, br")
        #expect(fields.value(of: .cookie) == "a=1; b=2")
        #expect(fields.value(of: .contentLength) == nil)
        #expect(fields.value(of: tenant) == "")
    }
}
