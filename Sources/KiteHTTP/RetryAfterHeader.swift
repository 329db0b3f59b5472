import Foundation
import HTTPTypes
import Kite

/// The `Retry-After` header (RFC 9110 §10.2.3) as Kite writes and reads it: whole seconds.
enum RetryAfterHeader {
    /// `retryAfter` in whole seconds, rounded up so that a client waits at least as long.
    static func value(_ retryAfter: Duration) -> String {
        let (seconds, attoseconds) = retryAfter.components
        return String(max(seconds + (attoseconds > 0 ? 1 : 0), 0))
    }

    /// The delay a `Retry-After` value asks for, when it is delta-seconds. An HTTP-date is not
    /// read: the client's own backoff applies then.
    static func parse(_ value: String?) -> Duration? {
        guard let value, let seconds = Int64(value.trimmingCharacters(in: .whitespaces)), seconds >= 0 else { return nil }
        return .seconds(seconds)
    }
}

extension HTTPServerResponse {
    /// The response with `Retry-After` set from `error`'s ``ServiceError/retryAfter``, unless the
    /// error encoder set it already.
    func withRetryAfter(of error: any Error) -> HTTPServerResponse {
        guard let retryAfter = (error as? any ServiceError)?.retryAfter, self.head.headerFields.value(of: .retryAfter) == nil else {
            return self
        }
        var response = self
        response.head.headerFields[.retryAfter] = RetryAfterHeader.value(retryAfter)
        return response
    }
}
