import Foundation

/// What the attempt loop does after one failed attempt: a pure function of the failure,
/// the pool's retry policy and the time left, unit-tested without providers.
enum AttemptDecision: Sendable, Equatable {
    /// Try the same model again after this delay.
    case retry(after: Duration)
    /// Move on to the next model of the chain.
    case rotate
    /// Move on, but only to models whose window may be larger than the one that failed.
    case rotateToLargerWindow
    /// The provider's credentials were refused: take the whole provider out, then move on.
    case deactivateProviderAndRotate
    /// A resumed stream's prefill was refused: remember the model rejects it, move on.
    case rejectPrefillAndRotate
    /// Return the error to the caller; no other model is tried.
    case fail

    /// The decision after attempt number `attempt` (1-based) of `allowed` on one model failed.
    ///
    /// - Parameters:
    ///   - failure: the classified failure.
    ///   - retry: the pool's retry policy.
    ///   - rotateOnContentPolicy: whether a content-policy refusal moves on instead of failing.
    ///   - isContinuation: whether the attempt resumed a stream with an assistant prefill.
    ///   - timeLeft: until the request's overall deadline.
    ///   - jitter: the backoff jitter factor, in `0.5...1`.
    static func after(
        _ failure: ProviderError, attempt: Int, of allowed: Int, retry: RetryPolicy, rotateOnContentPolicy: Bool,
        isContinuation: Bool = false, timeLeft: Duration, jitter: Double
    ) -> AttemptDecision {
        switch failure.errorClass {
        case .authentication:
            return .deactivateProviderAndRotate
        case .contextLength:
            return .rotateToLargerWindow
        case .invalidRequest where isContinuation:
            // The fallback refused the assistant prefill; the caller's request was fine.
            return .rejectPrefillAndRotate
        case .cancelled:
            return .fail
        default:
            break
        }
        if isRetryable(failure, retry: retry), attempt < allowed,
            let delay = retry.delay(afterAttempt: attempt, retryAfter: failure.retryAfter, jitter: jitter),
            delay < timeLeft
        {
            return .retry(after: delay)
        }
        switch failure.errorClass {
        case .contentPolicy:
            return rotateOnContentPolicy ? .rotate : .fail
        case .invalidRequest:
            return .fail
        default:
            // Exhausted retries, a silent upstream, an exhausted quota, a model the provider
            // does not serve, a broken stream: the next model may do better.
            return .rotate
        }
    }

    /// Whether a failure may be repeated on the same model: an upstream status in
    /// `retry.retryable_codes` and not in `retry.non_retryable_codes`; without a status, a
    /// connection failure, or a rate-limit or server error reported in-band. A timeout never
    /// is (a silent upstream is not asked again), nor an exhausted quota (it will not refill
    /// within a backoff), whatever their status.
    static func isRetryable(_ failure: ProviderError, retry: RetryPolicy) -> Bool {
        if failure.errorClass == .timeout || failure.errorClass == .quotaExhausted { return false }
        if let status = failure.status {
            return retry.retryableCodes.contains(status) && !retry.nonRetryableCodes.contains(status)
        }
        switch failure.errorClass {
        case .connection, .rateLimited, .serverError: return true
        default: return false
        }
    }
}

extension RetryScope {
    /// The candidates after `first` that a request whose first model was `first` may move on to.
    func allows(_ candidate: SelectionCandidate, after first: SelectionCandidate) -> Bool {
        switch self {
        case .any: true
        case .sameProvider: candidate.providerID == first.providerID
        case .sameModel: candidate.modelID == first.modelID
        }
    }
}

/// Which models a request may still try after a context-length refusal.
enum ContextWindowFallback {
    /// The rest of the chain after a model whose window was `failedWindow` (nil: not
    /// declared) refused the prompt as too long: models whose declared window is larger
    /// first, then models whose window is unknown; models known to be no larger are
    /// skipped. When the failed model's window is unknown nothing can be ruled out, but
    /// models with a declared window still go first.
    static func remaining(
        _ candidates: [SelectionCandidate], window: (SelectionCandidate) -> Int?, failedWindow: Int?
    ) -> [SelectionCandidate] {
        var larger: [SelectionCandidate] = []
        var unknown: [SelectionCandidate] = []
        for candidate in candidates {
            if let w = window(candidate) {
                if let failedWindow, w <= failedWindow { continue }
                larger.append(candidate)
            } else {
                unknown.append(candidate)
            }
        }
        return larger + unknown
    }
}
