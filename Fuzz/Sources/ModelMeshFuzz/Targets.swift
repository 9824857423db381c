import Foundation

// One libFuzzer executable, several targets. MODELMESH_FUZZ_TARGET names the target to run:
//
//     MODELMESH_FUZZ_TARGET=config Fuzz/.build/debug/modelmesh-fuzz Fuzz/Corpus/config
//
// Why one executable rather than one per target: every target links the same heavy graph
// (ModelMeshProviders pulls in AsyncHTTPClient, NIO, BoringSSL, Prometheus), so one link
// step instead of six keeps the clean build of the fuzz package shorter, and there is one
// binary path to remember. Coverage is per process, so sharing a binary does not mix the
// targets' coverage: each run only executes its own target's code.

/// The fuzz targets, by the name MODELMESH_FUZZ_TARGET uses.
enum FuzzTarget: String, CaseIterable, Sendable {
    /// YAML text → `ConfigurationLoader`'s decoder (what `modelmesh validate` runs).
    case config
    /// Bytes, cut into pieces → `SSEParser`; cutting must not change the events.
    case sse
    /// SSE bytes → `EventStreamMachine` over `OpenAIChunkDecoder`.
    case openAIStream = "openai-stream"
    /// SSE bytes → `EventStreamMachine` over `AnthropicEventDecoder`/`AnthropicStreamTranslator`.
    case anthropicStream = "anthropic-stream"
    /// SSE bytes → `EventStreamMachine` over `GeminiEventDecoder`/`GeminiStreamTranslator`.
    case geminiStream = "gemini-stream"
    /// JSON bytes → `ChatCompletionRequest` (as the proxy decodes it) → `fieldIssue()`.
    case request
    /// Status + headers + error body → rate-limit headers, `Retry-After`, vendor error
    /// classification (an extra target: what every upstream response goes through).
    case headers
    /// JSON bytes → `OpenAIRequestScan`/`OpenAIAnswerScan`, checked against `JSONSerialization`
    /// and `JSONDecoder` reading the same bytes.
    case openAIScan = "openai-scan"

    /// Runs one input. Returns -1 for inputs that should not enter the corpus (libFuzzer's
    /// convention), else 0. Invariant violations call `fuzzFailure`, which traps.
    func run(_ input: UnsafeBufferPointer<UInt8>) -> CInt {
        switch self {
        case .config: ConfigTargets.run(input)
        case .sse: SSETargets.run(input)
        case .openAIStream: StreamTargets.runOpenAI(input)
        case .anthropicStream: StreamTargets.runAnthropic(input)
        case .geminiStream: StreamTargets.runGemini(input)
        case .request: RequestTargets.run(input)
        case .headers: HeaderTargets.run(input)
        case .openAIScan: OpenAIScanTargets.run(input)
        }
    }
}

/// The target named by MODELMESH_FUZZ_TARGET; exits with a usage message when it names none.
let selectedTarget: FuzzTarget = {
    let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
    guard let name = ProcessInfo.processInfo.environment["MODELMESH_FUZZ_TARGET"] else {
        FileHandle.standardError.write(Data("modelmesh-fuzz: set MODELMESH_FUZZ_TARGET to one of: \(names)\n".utf8))
        exit(2)
    }
    guard let target = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(
            Data("modelmesh-fuzz: unknown MODELMESH_FUZZ_TARGET '\(name)'; targets: \(names)\n".utf8))
        exit(2)
    }
    return target
}()

/// Called once by libFuzzer before any input: settles the target, so a wrong name fails at start.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {
    FileHandle.standardError.write(Data("modelmesh-fuzz: target \(selectedTarget.rawValue)\n".utf8))
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    selectedTarget.run(UnsafeBufferPointer(start: data, count: size))
}

/// Reports a broken invariant and traps, so libFuzzer records the input as a crash.
func fuzzFailure(_ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    FileHandle.standardError.write(Data("\n==modelmesh-fuzz== invariant violated: \(message())\n".utf8))
    fatalError("modelmesh-fuzz invariant violated", file: file, line: line)
}
