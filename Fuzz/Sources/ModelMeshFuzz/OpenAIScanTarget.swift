import Foundation

@testable import ModelMesh
import ModelMeshTesting

/// `openai-scan`: a request body through `OpenAIRequestScan` and through Foundation
/// (`JSONSerialization` for "is it JSON", `JSONDecoder` for the fields), which must agree:
///
/// 1. Foundation refuses the body → the scanner refuses it.
/// 2. Foundation accepts it → the scanner accepts it, or refuses a field `JSONDecoder` refuses
///    too, or says it is not an object when it is not. Allowed differences, where the scanner is
///    stricter on purpose: trailing commas, UTF-16/32 bodies, a number too large for a double in a
///    member a repeated one replaces (JSONSerialization never converts it), output-token caps
///    past 2^53 written as decimals (refused either way).
/// 3. Accepted → every field equals `JSONDecoder`'s; splicing a new model and usage gives a body
///    that parses to the same object but for those members and scans to the same fields.
/// 4. `OpenAIAnswerScan` accepts exactly the objects that are JSON.
/// 5. A plain request or stream chunk built from a scan equals `JSONDecoder`'s.
///
/// The comparison (`ScanDifferential`, in ModelMeshTesting) is the one `OpenAIRequestScanTests`
/// runs on generated bodies.
enum OpenAIScanTargets {
    static func run(_ input: UnsafeBufferPointer<UInt8>) -> CInt {
        let body = Array(input)
        let verdict = ScanDifferential.check(body)
        if let failure = verdict.failure {
            fuzzFailure("\(failure)\n body: \(hex(Data(body)))")
        }
        // 5. A stream chunk built from a scan equals the one JSONDecoder decodes.
        if let chunk = body.withUnsafeBytes(OpenAIAnswerScan.plainChunk) {
            guard let decoded = try? JSONDecoder().decode(ChatCompletionChunk.self, from: Data(body)) else {
                fuzzFailure("a plain chunk that JSONDecoder refuses\n body: \(hex(Data(body)))")
            }
            if decoded != chunk {
                fuzzFailure("the plain chunk differs: \(chunk) ≠ JSONDecoder's \(decoded)\n body: \(hex(Data(body)))")
            }
        }
        let answer = Result { () throws(OpenAIScanError) in try OpenAIAnswerScan.scan(body) }
        switch (verdict.summary, answer) {
        case ("accepted", .failure(let error)), ("invalid field", .failure(let error)):
            // The request scanner may have stopped at a field before such a number.
            if error.kind == .malformedJSON, ScanDifferential.isOutOfRangeNumber(body, at: error.offset) { break }
            fuzzFailure("the answer scanner refuses a JSON object: \(error)\n body: \(hex(Data(body)))")
        case ("invalid JSON", .success), ("not an object", .success), ("lenient", .success):
            fuzzFailure("the answer scanner accepts what the request scanner refuses\n body: \(hex(Data(body)))")
        default: break
        }
        return 0
    }
}
