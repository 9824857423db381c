import Foundation
import Synchronization

/// Writes what happened to each request: its request log entry (redacted, at the
/// configured level), its statistics, and traces above the configured severity.
final class RequestRecorder: Sendable {
    /// Replaced whole when a reload adds secrets; a box, so reading it is one reference count.
    private final class Settings: Sendable {
        let value: RequestLogSettings
        init(_ value: RequestLogSettings) { self.value = value }
    }

    private let settingsCell: Mutex<Settings>
    var settings: RequestLogSettings { settingsCell.withLock { $0 }.value }
    let emitter: EventEmitter
    let statistics: StatisticsCollector
    let clock: any MeshClock

    init(settings: RequestLogSettings, emitter: EventEmitter, statistics: StatisticsCollector, clock: any MeshClock) {
        settingsCell = Mutex(Settings(settings))
        self.emitter = emitter
        self.statistics = statistics
        self.clock = clock
    }

    /// Masks `secrets` too from now on (a reload resolved new keys).
    func addSecrets(_ secrets: [String]) {
        settingsCell.withLock { current in
            var next = current.value
            next.redactor = next.redactor.adding(secrets: secrets)
            current = Settings(next)
        }
    }

    /// Sends a trace to the connectors when its severity passes the configured minimum.
    func trace(_ severity: TraceSeverity, _ message: @autoclosure () -> String, journey: Router.Journey, model: String?) {
        guard severity >= settings.traceMinSeverity else { return }
        var metadata: [String: JSONValue] = ["request_id": .string(journey.requestID), "pool": .string(journey.pool.id)]
        if let model { metadata["model"] = .string(model) }
        emitter.trace(
            TraceEntry(
                severity: severity, timestamp: clock.now(), component: "router",
                message: settings.redactor.mask(message()), metadata: metadata))
    }

    func logRequest(
        journey: Router.Journey, model: ModelConfiguration?, usage: Usage?, cost: Double, streaming: Bool, error: String?,
        status: Int? = nil, prompt: ChatCompletionRequest?, response: @autoclosure () -> String?
    ) {
        let now = clock.now()
        let latency = now.timeIntervalSince(journey.start) * 1000
        var entry = RequestLogEntry(
            requestID: journey.requestID, timestamp: journey.start, poolID: journey.pool.id, modelID: model?.id,
            providerID: model?.provider, capability: journey.pool.capabilityPath,
            deliveryMode: streaming ? "streaming" : "synchronous", status: status ?? (error == nil ? 200 : 502),
            latencyMs: latency, tokensIn: usage?.promptTokens ?? 0, tokensOut: usage?.completionTokens ?? 0, cost: cost,
            error: error, attempts: journey.attempts)
        if settings.level > .metadata {
            entry.prompt = prompt.map { Self.promptText($0) }
            // Read only here: a relayed answer is decoded for its text only when it is logged.
            entry.response = response()
        }
        statistics.record(entry)
        emitter.log(settings.redactor.redact(entry))
    }

    func logFailure(journey: Router.Journey, error: any Error, streaming: Bool, prompt: ChatCompletionRequest?) {
        let meshError = error as? ModelMeshError
        let now = clock.now()
        let latency = now.timeIntervalSince(journey.start) * 1000
        let failed = meshError?.attempts.last ?? journey.attempts.last
        var entry = RequestLogEntry(
            requestID: journey.requestID, timestamp: journey.start, poolID: journey.pool.id, modelID: failed?.modelID,
            providerID: failed?.providerID, capability: journey.pool.capabilityPath,
            deliveryMode: streaming ? "streaming" : "synchronous", status: meshError?.status ?? 500,
            latencyMs: latency, error: meshError?.message ?? "\(error)",
            attempts: meshError?.attempts ?? journey.attempts)
        if settings.level > .metadata { entry.prompt = prompt.map { Self.promptText($0) } }
        statistics.record(entry)
        emitter.log(settings.redactor.redact(entry))
    }

    static func promptText(_ request: ChatCompletionRequest) -> String {
        request.messages.map { "\($0.role): \($0.content?.text ?? "")" }.joined(separator: "\n")
    }
}

/// How request log entries are produced.
struct RequestLogSettings: Sendable {
    var level: RequestLogLevel = .metadata
    var redactor: RequestLogRedactor
    /// Traces below this severity are not built at all.
    var traceMinSeverity: TraceSeverity = .info

    init(
        level: RequestLogLevel, secrets: [String], redact: Bool = true, maxPayloadBytes: Int? = nil,
        traceMinSeverity: TraceSeverity = .info
    ) {
        self.level = level
        self.traceMinSeverity = traceMinSeverity
        redactor = RequestLogRedactor(
            level: level, knownSecrets: secrets, redactSecrets: redact, maxPayloadBytes: maxPayloadBytes)
    }
}

private let requestCounter = Atomic<UInt64>(0)
private let requestIDPrefix = "req_" + String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 16) + "_"

/// Request ids the mesh assigns when the caller sent none.
enum RequestID {
    /// A random per-process prefix and a counter: unique, and no system call per request.
    static func next() -> String {
        let n = requestCounter.wrappingAdd(1, ordering: .relaxed).newValue
        return requestIDPrefix + String(n, radix: 16)
    }
}
