import AsyncHTTPClient
import ModelMesh
import NIOCore
import Synchronization

/// Moves one streamed response body from the socket to the consumer: parses SSE, decodes
/// events, and fails the stream when the body stalls longer than the idle timeout.
///
/// AsyncHTTPClient's deadline ends at the response head, so the stall watchdog lives here.
struct EventPump<Decoder: SSEEventDecoder>: Sendable {
    let body: HTTPClientResponse.Body
    let decoder: Decoder
    let idleTimeout: Duration
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
                    ended = try deliver(decoder.decode(event), for: event)
                }
                if ended { continuation.finish() }
            }
            if ended { return }
            if Task.isCancelled { throw CancellationError() }
            if let last = parser.finish() {
                if try deliver(decoder.decode(last), for: last) {
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
    private func deliver(_ step: SSEDecodeStep<Decoder.Element>, for event: SSEEvent) -> Bool {
        switch step {
        case .emit(let elements):
            for element in elements { continuation.yield(element) }
            return false
        case .skip:
            return false
        case .invalid:
            onInvalidEvent(event)
            return false
        case .end(let elements):
            for element in elements { continuation.yield(element) }
            return true
        }
    }

    private func watch(_ activity: ActivityMark) async {
        while !Task.isCancelled {
            let due = activity.last + idleTimeout
            if ContinuousClock.now >= due {
                let ms = Int((idleTimeout.seconds * 1000).rounded())
                continuation.finish(
                    throwing: ProviderError(.timeout, message: "The upstream stream stalled: no data for \(ms)ms"))
                return
            }
            do {
                try await Task.sleep(until: due, clock: .continuous)
            } catch {
                return
            }
        }
    }
}

/// When the body last made progress.
final class ActivityMark: Sendable {
    private let instant = Mutex(ContinuousClock.now)

    var last: ContinuousClock.Instant { instant.withLock { $0 } }

    func touch() { instant.withLock { $0 = .now } }
}
