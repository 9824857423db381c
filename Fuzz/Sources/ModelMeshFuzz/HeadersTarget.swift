import Foundation
import ModelMesh
import NIOCore
import NIOHTTP1

@testable import ModelMeshProviders

/// `headers` (beyond the requested targets): an upstream response's status, headers and
/// error body through what `HTTPTransport` and the vendor translators read from every
/// response — `RateLimitHeaders.parse` (OpenAI and Anthropic names; run on every response,
/// 2xx included), `RateLimitHeaders.retryAfter`, and the error classification of each
/// vendor (`OpenAIErrorClassifier`, `AnthropicTranslator.error`, `GeminiTranslator.error`).
/// All of it is upstream-controlled. Invariant: no crash.
///
/// Input: one byte choosing the status, then `name: value` lines, a blank line, the body.
enum HeaderTargets {
    static let statuses = [200, 400, 401, 403, 404, 408, 413, 429, 500, 502, 503, 504, 529]
    static let now = Date(timeIntervalSince1970: 1_750_000_000)

    static func run(_ input: UnsafeBufferPointer<UInt8>) -> CInt {
        guard let first = input.first else { return -1 }
        let status = statuses[Int(first) % statuses.count]
        let text = String(decoding: input.dropFirst(), as: UTF8.self)
        let (head, body): (Substring, Substring) =
            if let blank = text.range(of: "\n\n") {
                (text[..<blank.lowerBound], text[blank.upperBound...])
            } else {
                (text[...], "")
            }
        var pairs: [(String, String)] = []
        for line in head.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty else { continue }
            pairs.append((name, value))
        }
        let headers = HTTPHeaders(pairs)
        let bodyData = Data(body.utf8)

        _ = RateLimitHeaders.parse(headers, names: .openAI, now: now)
        _ = RateLimitHeaders.parse(headers, names: .anthropic, now: now)
        let retryAfter = RateLimitHeaders.retryAfter(headers, now: now)
        let response = UpstreamResponse(
            status: status, headers: headers, body: ByteBuffer(string: String(body)),
            rateLimit: RateLimitHeaders.parse(headers, names: .openAI, now: now), retryAfter: retryAfter)
        _ = OpenAIErrorClassifier.error(for: response).description
        _ = AnthropicTranslator.error(status: status, headers: pairs, body: bodyData, now: now).description
        _ = GeminiTranslator.error(status: status, headers: pairs, body: bodyData, now: now).description
        return 0
    }
}
