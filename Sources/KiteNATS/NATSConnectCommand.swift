import Kite
import NIOCore

/// The `CONNECT` a client sends after the server's `INFO`: no verbose `+OK`s, headers and
/// "no responders" answers on, the credentials of the URL or of the configuration.
struct NATSConnectCommand: Encodable {
    let verbose = false
    let pedantic = false
    let tls_required = false
    let lang = "swift"
    let version = "kite"
    let `protocol` = 1
    let echo = true
    let headers = true
    let no_responders = true
    let name: String?
    let user: String?
    let pass: String?
    let auth_token: String?

    init(address: NATSServerAddress, configuration: NATSClient.Configuration, info: NATSServerInfo) {
        self.name = configuration.name
        var user = address.user
        var password = address.password
        var token = address.token
        if user == nil, token == nil {
            switch configuration.authentication {
            case .userPassword(let name, let secret)?:
                user = name
                password = secret
            case .token(let value)?:
                token = value
            case nil:
                break
            }
        }
        self.user = user
        self.pass = password
        self.auth_token = token
    }

    /// `CONNECT {…}\r\n`.
    func encoded() throws -> ByteBuffer {
        var buffer = ByteBuffer(staticString: "CONNECT ")
        var json = try JSONCoding.encode(self)
        buffer.writeBuffer(&json)
        buffer.writeStaticString("\r\n")
        return buffer
    }
}
