import AsyncHTTPClient
import ModelMesh
import NIOCore
import Synchronization

/// Moves one streamed response body from the socket to the consumer: parses SSE, decodes
/// events, and fails the stream when the body stalls longer than the idle timeout, or when
/// the routing deadlines (``StreamDeadlines``, if given) pass without an element.
///
/// AsyncHTTPClient's deadline ends at the response head, so the stall watchdog lives here:
/// one sleeping task per stream instead of a timer per chunk.
struct EventPump<Decoder: SSEEventDecoder>: Sendable {
    let body: HTTPClientResponse.Body
    let decoder: Decoder
    let idleTimeout: Duration
    let deadlines: StreamDeadlines?
    /// Whether an element is output (before the first one, `deadlines.firstToken` applies).
    let carriesOutput: @Sendable (Decoder.Element) -> Bool
    let request: UpstreamRequest
    let onInvalidEvent: @Sendable (SSEEvent) -> Void
    let continuation: AsyncThrowingStream<Decoder.Element, any Error>.Continuation

    /// Runs until the body ended, failed or stalled, or the consumer went away. Whatever
    /// finishes first decides how the stream ends (later finishes are ignored by the stream);
    /// the other side is then cancelled, which cancels the upstream request.
    func run() async {
        let activity = ActivityMark()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await read(activity) }
            group.addTask { await watch(activity) }
            await group.next()
            group.cancelAll()
        }
    }

    private func read(_ activity: ActivityMark) async {
        var parser = SSEParser()
        var decoder = decoder
        var ended = false
        do {
            for try await buffer in body {
                activity.touch()
                if ended { continue }  // draining after the end marker keeps the connection reusable
                for event in try parser.parse(buffer) where !ended {
                    ended = try deliver(decoder.decode(event), for: event, activity)
                }
                if ended { continuation.finish() }
            }
            if ended { return }
            if Task.isCancelled { throw CancellationError() }
            if let last = parser.finish() {
                if try deliver(decoder.decode(last), for: last, activity) {
                    continuation.finish()
                    return
                }
            }
            for element in try decoder.bodyEnded() { continuation.yield(element) }
            continuation.finish()
        } catch {
            if ended { return }
            let failure = HTTPTransport.classifyTransportError(error, afterHead: true, budget: nil)
            continuation.finish(throwing: request.redact(failure))
        }
    }

    /// Hands a step's elements over; returns whether the step was the end marker.
    private func deliver(_ step: SSEDecodeStep<Decoder.Element>, for event: SSEEvent, _ activity: ActivityMark) -> Bool {
        switch step {
        case .emit(let elements):
            yield(elements, activity)
            return false
        case .skip:
            return false
        case .invalid:
            onInvalidEvent(event)
            return false
        case .end(let elements):
            yield(elements, activity)
            return true
        }
    }

    private func yield(_ elements: [Decoder.Element], _ activity: ActivityMark) {
        guard !elements.isEmpty else { return }
        if deadlines != nil { activity.element(output: elements.contains(where: carriesOutput)) }
        for element in elements { continuation.yield(element) }
    }

    private func watch(_ activity: ActivityMark) async {
        while !Task.isCancelled {
            let state = activity.state
            var due = state.lastData + idleTimeout
            var failure: ProviderError {
                let ms = Int((idleTimeout.seconds * 1000).rounded())
                return ProviderError(.timeout, message: "The upstream stream stalled: no data for \(ms)ms")
            }
            var silence: ProviderError?
            if let deadlines {
                let (limit, setting) =
                    state.outputSeen
                    ? (deadlines.idle, "idle_timeout") : (deadlines.firstToken, "first_token_timeout")
                if state.lastElement + limit < due {
                    due = state.lastElement + limit
                    silence = .streamSilent(for: limit, setting: setting)
                }
            }
            let now = ContinuousClock.now
            if now >= due {
                continuation.finish(throwing: silence ?? failure)
                return
            }
            // The first output switches to the (possibly much shorter) idle deadline, so never
            // sleep past now + the shortest limit: no deadline set later can fall before that.
            if let deadlines {
                due = min(due, now + min(idleTimeout, deadlines.firstToken, deadlines.idle))
            }
            do {
                try await Task.sleep(until: due, clock: .continuous)
            } catch {
                return
            }
        }
    }
}

/// When the body last made progress, and when the last element went out.
final class ActivityMark: Sendable {
    struct State {
        var lastData: ContinuousClock.Instant
        /// The opening of the stream until the first element.
        var lastElement: ContinuousClock.Instant
        var outputSeen = false
    }

    private let mark: Mutex<State>

    init() {
        let now = ContinuousClock.now
        mark = Mutex(State(lastData: now, lastElement: now))
    }

    var state: State { mark.withLock { $0 } }

    /// Bytes arrived.
    func touch() { mark.withLock { $0.lastData = .now } }

    /// Elements went out; `output` when one of them carried output.
    func element(output: Bool) {
        mark.withLock {
            $0.lastElement = .now
            if output { $0.outputSeen = true }
        }
    }
}
