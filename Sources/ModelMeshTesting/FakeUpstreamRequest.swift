import Foundation
import ModelMesh

/// A request a ``FakeUpstream`` received, as it arrived.
public struct RecordedRequest: Sendable {
    /// When the request was complete (its last body byte arrived).
    public var time: Date
    public var method: String
    /// Path and query, as sent (`/v1beta/models/x:generateContent?key=...`).
    public var uri: String
    /// Headers in order, names as sent.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Which connection carried it (counts from 1 in accept order).
    public var connectionID: Int

    public init(
        time: Date, method: String, uri: String, headers: [(name: String, value: String)], body: [UInt8],
        connectionID: Int
    ) {
        self.time = time
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
        self.connectionID = connectionID
    }

    /// The path without the query.
    public var path: String {
        String(uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
    }

    /// The query without `?`, if any.
    public var query: String? {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        return parts.count > 1 ? String(parts[1]) : nil
    }

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.name.lowercased() == lowered }?.value
    }

    /// The body as UTF-8 text.
    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// The body parsed as JSON, or `nil` when it is not JSON.
    public var json: JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: Data(body)) }
}
