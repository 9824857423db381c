import ModelMesh

/// What a decoder made of one server-sent event.
package enum SSEDecodeStep<Element: Sendable>: Sendable {
    /// Elements to hand to the consumer (possibly none).
    case emit([Element])
    /// The event is not meant for the consumer (keep-alive, an event type that carries nothing).
    case skip
    /// The event could not be decoded: it is skipped and counted, the stream goes on.
    case invalid
    /// The vendor's end marker: hand over `elements`, then finish the stream normally.
    case end([Element])
}

/// Turns one vendor's server-sent events into stream elements.
///
/// The transport feeds every event of one response to one decoder value in order, so a
/// decoder may keep state between events (a message id, open tool-call blocks). Throw a
/// ``ProviderError`` for an in-band error event: the stream fails with it.
package protocol SSEEventDecoder: Sendable {
    associatedtype Element: Sendable

    /// Decodes one event.
    mutating func decode(_ event: SSEEvent) throws -> SSEDecodeStep<Element>

    /// Called when the body ended before ``SSEDecodeStep/end(_:)`` was returned. Return the
    /// last elements to finish normally (for vendors whose stream simply ends), or throw.
    ///
    /// The default throws `.streamInterrupted`: a stream without its end marker is truncated.
    mutating func bodyEnded() throws -> [Element]
}

extension SSEEventDecoder {
    package mutating func bodyEnded() throws -> [Element] {
        throw ProviderError(.streamInterrupted, message: "The upstream stream ended without its end marker")
    }
}
