import Foundation
import ModelMesh

/// One scripted answer of a ``FakeUpstream``: a complete body, a server-sent event stream,
/// or a network fault.
///
/// The core is vendor-neutral — status, headers, bytes, events — so any vendor's wire format
/// can be scripted; ``FakeResponse/openAIChatCompletion(content:model:toolCalls:finishReason:usage:headers:)``
/// and friends are conveniences for the OpenAI shape.
///
/// ```swift
/// fake.enqueue(.json(#"{"ok": true}"#), for: "/v1/check")
/// fake.enqueue(.rateLimited(retryAfter: "2"), for: "/v1/chat/completions")
/// fake.enqueue(.openAIStream(pieces: ["Hel", "lo"], ending: .cut), for: "/v1/chat/completions")
/// fake.enqueue(.silence, for: "/v1/chat/completions")
/// ```
public struct FakeResponse: Sendable {
    /// What is sent after the head.
    public enum Body: Sendable {
        /// A complete body with `content-length`.
        case bytes([UInt8])
        /// A chunked body of events, each sent after its own delay, then the ending.
        case stream([FakeStreamEvent], ending: FakeStreamEnding)
        /// The connection is closed as soon as the request arrived: not a byte is answered.
        case resetConnection
        /// The request is read and never answered; the connection stays open.
        case silence
    }

    /// The HTTP status.
    public var status: Int
    /// Response headers in order.
    public var headers: [(name: String, value: String)]
    public var body: Body
    /// How long the server waits before sending the head (a slow first byte).
    public var headDelay: Duration

    public init(
        status: Int = 200, headers: [(name: String, value: String)] = [], body: Body, headDelay: Duration = .zero
    ) {
        self.status = status
        self.headers = headers
        self.body = body
        self.headDelay = headDelay
    }

    /// The same response with its head sent only after `delay`.
    public func delayingHead(by delay: Duration) -> FakeResponse {
        var copy = self
        copy.headDelay = delay
        return copy
    }

    /// The same response with `name: value` added to its headers.
    public func addingHeader(_ name: String, _ value: String) -> FakeResponse {
        var copy = self
        copy.headers.append((name, value))
        return copy
    }

    // MARK: Generic builders

    /// A JSON body given as text.
    public static func json(_ text: String, status: Int = 200, headers: [(name: String, value: String)] = [])
        -> FakeResponse
    {
        raw(Array(text.utf8), status: status, contentType: "application/json", headers: headers)
    }

    /// A JSON body encoded from `value` (keys sorted).
    public static func json(
        encoding value: some Encodable, status: Int = 200, headers: [(name: String, value: String)] = []
    ) -> FakeResponse {
        raw(FakeJSON.encode(value), status: status, contentType: "application/json", headers: headers)
    }

    /// Any bytes with any content type, e.g. an exact vendor error body or an HTML error page.
    public static func raw(
        _ bytes: [UInt8], status: Int = 200, contentType: String? = "application/octet-stream",
        headers: [(name: String, value: String)] = []
    ) -> FakeResponse {
        var all = headers
        if let contentType, !all.contains(where: { $0.name.lowercased() == "content-type" }) {
            all.insert(("content-type", contentType), at: 0)
        }
        return FakeResponse(status: status, headers: all, body: .bytes(bytes))
    }

    /// Any text body.
    public static func text(
        _ text: String, status: Int = 200, contentType: String = "text/plain; charset=utf-8",
        headers: [(name: String, value: String)] = []
    ) -> FakeResponse {
        raw(Array(text.utf8), status: status, contentType: contentType, headers: headers)
    }

    /// A `text/event-stream` response.
    public static func sse(
        _ events: [FakeStreamEvent], ending: FakeStreamEnding = .finish, status: Int = 200,
        headers: [(name: String, value: String)] = []
    ) -> FakeResponse {
        var all = headers
        if !all.contains(where: { $0.name.lowercased() == "content-type" }) {
            all.insert(("content-type", "text/event-stream"), at: 0)
        }
        all.append(("cache-control", "no-cache"))
        return FakeResponse(status: status, headers: all, body: .stream(events, ending: ending))
    }

    /// The connection is closed as soon as the request arrived (a reset before any byte).
    public static let resetConnection = FakeResponse(status: 0, body: .resetConnection)

    /// The request is read and never answered (accept-then-silence).
    public static let silence = FakeResponse(status: 0, body: .silence)
}

/// How a scripted event stream ends.
public enum FakeStreamEnding: Sendable, Hashable {
    /// `data: [DONE]`, then the body ends properly (the OpenAI terminator).
    case done
    /// The body ends properly without a terminator event (vendors whose end marker is an
    /// ordinary event, or an OpenAI stream that closes without `[DONE]`: complete when its
    /// choices reported their `finish_reason`, truncated otherwise).
    case finish
    /// The connection is closed in the middle of the body: no terminating chunk. The close
    /// comes 200ms after the last event, so a client has read what was sent before it.
    case cut
    /// Nothing more is sent and the connection stays open.
    case stall
}

/// One event of a scripted stream: raw bytes sent after a delay.
public struct FakeStreamEvent: Sendable {
    /// Exactly what is written, field lines and blank line included.
    public var bytes: [UInt8]
    /// Wait before writing this event.
    public var delay: Duration

    public init(bytes: [UInt8], delay: Duration = .zero) {
        self.bytes = bytes
        self.delay = delay
    }

    /// `data: <text>` (one `data:` line per line of `text`) and a blank line.
    public static func data(_ text: String, delay: Duration = .zero) -> FakeStreamEvent {
        event(nil, data: text, delay: delay)
    }

    /// `event: <name>`, the `data:` lines, and a blank line.
    public static func event(_ name: String?, data: String, delay: Duration = .zero) -> FakeStreamEvent {
        var text = name.map { "event: \($0)\n" } ?? ""
        for line in data.split(separator: "\n", omittingEmptySubsequences: false) {
            text += "data: \(line)\n"
        }
        return FakeStreamEvent(bytes: Array((text + "\n").utf8), delay: delay)
    }

    /// A `data:` event whose payload is `value` as JSON.
    public static func json(_ value: some Encodable, event: String? = nil, delay: Duration = .zero) -> FakeStreamEvent {
        self.event(event, data: String(decoding: FakeJSON.encode(value), as: UTF8.self), delay: delay)
    }

    /// Text written as it is (to script malformed or split events).
    public static func raw(_ text: String, delay: Duration = .zero) -> FakeStreamEvent {
        FakeStreamEvent(bytes: Array(text.utf8), delay: delay)
    }

    /// A comment line (`: text`), as servers send for keep-alive.
    public static func comment(_ text: String, delay: Duration = .zero) -> FakeStreamEvent {
        FakeStreamEvent(bytes: Array(": \(text)\n\n".utf8), delay: delay)
    }

    /// `data: [DONE]`
    public static let done = FakeStreamEvent.data("[DONE]")
}

enum FakeJSON {
    static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding the wire types and JSONValue does not fail; an empty object is a visible
        // sign in the recorded exchange if a custom type ever does.
        return (try? Array(encoder.encode(value))) ?? Array("{}".utf8)
    }
}
