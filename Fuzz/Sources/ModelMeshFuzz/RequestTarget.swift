import Foundation
import ModelMesh

/// `request`: a `/v1/chat/completions` body as the proxy reads it — `JSONDecoder` into
/// `ChatCompletionRequest` — then `fieldIssue()`, the validation the proxy and `Mesh` run
/// before routing. Invariants:
///
/// 1. No crash: a value or a thrown `DecodingError`, never a trap.
/// 2. A request that decodes can be forwarded: it encodes to JSON again (the connectors
///    re-encode it, `extra` members included).
/// 3. The encoding is stable: decoding the re-encoded request and encoding it again gives
///    the same bytes, and the same `fieldIssue()`; so nothing the engine reads changes
///    between the client's request and what is sent upstream.
enum RequestTargets {
    static func run(_ input: UnsafeBufferPointer<UInt8>) -> CInt {
        let body = Data(buffer: input)
        let request: ChatCompletionRequest
        do {
            request = try JSONDecoder().decode(ChatCompletionRequest.self, from: body)
        } catch is DecodingError {
            return 0
        } catch {
            fuzzFailure("decoding threw something other than a DecodingError: \(String(reflecting: error))")
        }
        let issue = request.fieldIssue()
        _ = issue?.description
        _ = request.requestedMaxTokens
        for message in request.messages { _ = (message.content?.text, message.content?.hasImage) }

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let first: Data
        do {
            first = try encoder.encode(request)
        } catch {
            fuzzFailure("an accepted request does not encode again (\(error)): body \(hex(body))")
        }
        let again: ChatCompletionRequest
        do {
            again = try JSONDecoder().decode(ChatCompletionRequest.self, from: first)
        } catch {
            fuzzFailure(
                "the re-encoded request does not decode (\(error)):\n body:       \(hex(body))\n re-encoded: \(String(decoding: first, as: UTF8.self))"
            )
        }
        guard let second = try? encoder.encode(again), second == first else {
            fuzzFailure(
                "re-encoding is not stable:\n body:   \(hex(body))\n first:  \(String(decoding: first, as: UTF8.self))"
            )
        }
        if again.fieldIssue()?.param != issue?.param {
            fuzzFailure(
                "validation changes after a round trip: \(issue?.param ?? "none") → \(again.fieldIssue()?.param ?? "none"); body \(hex(body))"
            )
        }
        return 0
    }
}
