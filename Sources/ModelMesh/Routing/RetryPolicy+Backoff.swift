import Foundation

extension RetryPolicy {
    /// The wait before attempt `attempt + 1` on the same model, or `nil` when the request
    /// should rotate instead (the upstream asked for a wait longer than ``maxDelay``).
    ///
    /// - Parameters:
    ///   - attempt: the 1-based number of the attempt that just failed.
    ///   - retryAfter: the upstream's `Retry-After`, if any.
    ///   - jitter: a factor in `0.5...1`, drawn per call (injectable for tests).
    public func delay(afterAttempt attempt: Int, retryAfter: Duration?, jitter: Double) -> Duration? {
        if let retryAfter, honorRetryAfter {
            return retryAfter > maxDelay ? nil : retryAfter
        }
        switch backoff {
        case .fixed:
            return min(initialDelay, maxDelay)
        case .exponentialJitter, .retryAfter:
            let exponent = Double(max(0, attempt - 1))
            let base = min(maxDelay.seconds, initialDelay.seconds * pow(2, exponent))
            return .seconds(base * min(1, max(0.5, jitter)))
        }
    }
}
