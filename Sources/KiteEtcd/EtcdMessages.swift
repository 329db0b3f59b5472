/// The parts of the etcd v3 JSON gateway's messages Kite reads. 64-bit integers arrive as strings;
/// keys and values as base64.
enum EtcdMessages {
    struct Header: Decodable {
        var revision: String?
    }

    struct KeyValue: Decodable {
        var key: String?
        var value: String?
        var mod_revision: String?
    }

    struct RangeResponse: Decodable {
        var header: Header?
        var kvs: [KeyValue]?
    }

    struct LeaseGrantResponse: Decodable {
        var ID: String?
        var TTL: String?
        var error: String?
    }

    struct LeaseKeepAliveResponse: Decodable {
        struct Result: Decodable {
            var ID: String?
            var TTL: String?
        }

        var result: Result?
    }

    struct WatchResponse: Decodable {
        struct Event: Decodable {
            var type: String?
            var kv: KeyValue?
        }

        struct Result: Decodable {
            var header: Header?
            var created: Bool?
            var canceled: Bool?
            var compact_revision: String?
            var cancel_reason: String?
            var events: [Event]?
        }

        var result: Result?
        var error: ErrorBody?
    }

    /// The body of a refused request (also a watch stream's error line).
    struct ErrorBody: Decodable {
        var message: String?
        var error: String?
        var code: Int?
        /// A stream's error line names the code so.
        var grpc_code: Int?
    }
}
