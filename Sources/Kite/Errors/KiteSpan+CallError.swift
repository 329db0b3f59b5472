import KiteTelemetry
import Tracing

extension KiteSpan {
    /// Records on the span how a call that threw `error` ended, as Kite's transports record it:
    /// `error.type` (the code's name) and, for a failure (not a business error), the error itself
    /// and status error.
    /// - Returns: The error's code (``CallOutcome/code(of:)``).
    @discardableResult
    package func recordCallError(_ error: any Error) -> ErrorCode {
        let code = CallOutcome.code(of: error)
        guard self.isRecording else { return code }
        self.setAttribute("error.type", code.name)
        if CallOutcome(of: error) == .failure {
            self.recordError(error)
            self.setStatus(SpanStatus(code: .error))
        }
        return code
    }
}
