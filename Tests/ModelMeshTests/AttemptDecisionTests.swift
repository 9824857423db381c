import Foundation
import Testing

@testable import ModelMesh

@Suite struct AttemptDecisionTests {
    func decide(
        _ errorClass: ProviderErrorClass, status: Int? = nil, retryAfter: Duration? = nil, attempt: Int = 1,
        of allowed: Int = 3, retry: RetryPolicy = .init(), rotateOnContentPolicy: Bool = false,
        continuation: Bool = false, timeLeft: Duration = .seconds(60)
    ) -> AttemptDecision {
        AttemptDecision.after(
            ProviderError(errorClass, status: status, message: "x", retryAfter: retryAfter), attempt: attempt,
            of: allowed, retry: retry, rotateOnContentPolicy: rotateOnContentPolicy, isContinuation: continuation,
            timeLeft: timeLeft, jitter: 1)
    }

    @Test func retryableFailuresBackOffThenRotate() {
        #expect(decide(.serverError, status: 503) == .retry(after: .milliseconds(500)))
        #expect(decide(.serverError, status: 503, attempt: 2) == .retry(after: .seconds(1)))
        #expect(decide(.connection, attempt: 3, of: 3) == .rotate)
        #expect(decide(.rateLimited, status: 429, retryAfter: .seconds(2)) == .retry(after: .seconds(2)))
    }

    @Test func aRetryAfterLongerThanTheMaximumDelayRotates() {
        #expect(decide(.rateLimited, status: 429, retryAfter: .seconds(60)) == .rotate)
    }

    @Test func aBackoffPastTheDeadlineRotates() {
        #expect(decide(.serverError, status: 500, timeLeft: .milliseconds(100)) == .rotate)
    }

    @Test func classesThatAreNotRepeatedOnTheSameModel() {
        for errorClass: ProviderErrorClass in [.timeout, .quotaExhausted, .modelNotFound, .streamInterrupted, .unknown] {
            #expect(decide(errorClass) == .rotate, "\(errorClass)")
        }
        #expect(decide(.authentication, status: 401) == .deactivateProviderAndRotate)
        #expect(decide(.contextLength, status: 400) == .rotateToLargerWindow)
    }

    @Test func theCallersOwnMistakesFail() {
        #expect(decide(.invalidRequest, status: 400) == .fail)
        #expect(decide(.cancelled) == .fail)
        #expect(decide(.contentPolicy, status: 400) == .fail)
        #expect(decide(.contentPolicy, status: 400, rotateOnContentPolicy: true) == .rotate)
    }

    @Test func aRefusedContinuationRejectsThePrefill() {
        #expect(decide(.invalidRequest, status: 400, continuation: true) == .rejectPrefillAndRotate)
        #expect(decide(.serverError, status: 503, continuation: true) == .retry(after: .milliseconds(500)))
    }

    @Test func contextFallbackPrefersLargerThenUnknownWindows() {
        let windows: [String: Int] = ["small": 4_000, "same": 8_000, "large": 32_000, "huge": 128_000]
        let chain = ["small", "unknown1", "same", "huge", "unknown2", "large"].map {
            SelectionCandidate(modelID: $0, providerID: "p", position: 0)
        }
        let after8k = ContextWindowFallback.remaining(chain, window: { windows[$0.modelID] }, failedWindow: 8_000)
        #expect(after8k.map(\.modelID) == ["huge", "large", "unknown1", "unknown2"])
        let afterUnknown = ContextWindowFallback.remaining(chain, window: { windows[$0.modelID] }, failedWindow: nil)
        #expect(afterUnknown.map(\.modelID) == ["small", "same", "huge", "large", "unknown1", "unknown2"])
    }
}

@Suite struct RetryCodeTests {
    func decide(_ errorClass: ProviderErrorClass, status: Int?, retry: RetryPolicy) -> AttemptDecision {
        AttemptDecision.after(
            ProviderError(errorClass, status: status, message: "x"), attempt: 1, of: 3, retry: retry,
            rotateOnContentPolicy: false, timeLeft: .seconds(60), jitter: 1)
    }

    @Test func retryableCodesDecideWhatIsRepeatedOnTheSameModel() {
        var retry = RetryPolicy()
        #expect(decide(.serverError, status: 529, retry: retry) == .retry(after: .milliseconds(500)))
        retry.retryableCodes = [429]
        #expect(decide(.serverError, status: 503, retry: retry) == .rotate)
        #expect(decide(.rateLimited, status: 429, retry: retry) == .retry(after: .milliseconds(500)))
        // A status the class alone would not retry, listed as transient by the operator.
        retry.retryableCodes = [409]
        retry.nonRetryableCodes = [400]
        #expect(decide(.invalidRequest, status: 409, retry: retry) == .retry(after: .milliseconds(500)))
        #expect(decide(.invalidRequest, status: 400, retry: retry) == .fail)
        // Connection failures carry no status and are always retried; timeouts never are.
        #expect(decide(.connection, status: nil, retry: retry) == .retry(after: .milliseconds(500)))
        #expect(decide(.timeout, status: 408, retry: RetryPolicy()) == .rotate)
    }

    @Test func nonRetryableCodesAreNeverRepeated() {
        var retry = RetryPolicy()
        retry.retryableCodes = [429, 500]
        retry.nonRetryableCodes = [503]
        #expect(decide(.serverError, status: 503, retry: retry) == .rotate)
        #expect(decide(.quotaExhausted, status: 429, retry: RetryPolicy()) == .rotate)
    }
}
