import Kite

/// A failure of the call: what breakers count.
struct Unavailable: ServiceError {
    var code: ErrorCode { .unavailable }
}

/// A business error: an answer, which breakers ignore.
struct NotFound: ServiceError {
    var code: ErrorCode { .notFound }
}
