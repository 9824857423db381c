import Foundation

/// The whole configuration of a mesh: what `modelmesh.yaml` describes, typed.
///
/// Build it in code, or load it with ``ConfigurationLoader``. Collections keep the order
/// of the file: pool order decides which pool serves a capability, model order is the
/// default priority inside a pool.
public struct MeshConfiguration: Sendable {
    public var providers: [ProviderConfiguration]
    public var models: [ModelConfiguration]
    public var pools: [PoolConfiguration]
    public var secrets: SecretsConfiguration
    public var storage: StorageConfiguration
    public var observability: ObservabilityConfiguration
    public var discovery: DiscoveryConfiguration
    public var proxy: ProxyConfiguration
    /// Global spend limits.
    public var budget: BudgetLimits?

    public init(
        providers: [ProviderConfiguration] = [], models: [ModelConfiguration] = [],
        pools: [PoolConfiguration] = [], secrets: SecretsConfiguration = .init(),
        storage: StorageConfiguration = .init(), observability: ObservabilityConfiguration = .init(),
        discovery: DiscoveryConfiguration = .init(), proxy: ProxyConfiguration = .init(),
        budget: BudgetLimits? = nil
    ) {
        self.providers = providers
        self.models = models
        self.pools = pools
        self.secrets = secrets
        self.storage = storage
        self.observability = observability
        self.discovery = discovery
        self.proxy = proxy
        self.budget = budget
    }
}

/// A secret value (API key, token). Its description never shows the value.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The secret itself. Read it only where it is sent to its destination.
    public let value: String

    public init(_ value: String) { self.value = value }

    public var isEmpty: Bool { value.isEmpty }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}

/// One provider: a connector type plus its endpoint and credentials.
///
/// Two providers with the same connector are two providers (two keys, two endpoints).
public struct ProviderConfiguration: Sendable, Equatable {
    /// The provider id, as models reference it.
    public var id: String
    /// The connector ID, normalized (e.g. `openai.llm.v1`).
    public var connector: String
    public var baseURL: String?
    public var apiKey: Secret?
    /// Bounds one attempt, connect to last byte.
    public var timeout: Duration?
    /// Extra headers sent with every request (values may hold resolved secrets).
    public var headers: [String: Secret]
    public var budget: BudgetLimits?
    public var enabled: Bool
    /// Connector-specific settings (`organization`, `anthropic_version`, `http_referer`, ...).
    public var settings: [String: JSONValue]

    public init(
        id: String, connector: String? = nil, baseURL: String? = nil, apiKey: Secret? = nil,
        timeout: Duration? = nil, headers: [String: Secret] = [:], budget: BudgetLimits? = nil, enabled: Bool = true,
        settings: [String: JSONValue] = [:]
    ) {
        self.id = id
        self.connector = connector ?? id
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.timeout = timeout
        self.headers = headers
        self.budget = budget
        self.enabled = enabled
        self.settings = settings
    }
}

/// Optional model abilities that requests may need.
public struct ModelFeatures: Sendable, Hashable, OptionSet {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let toolCalling = ModelFeatures(rawValue: 1 << 0)
    public static let vision = ModelFeatures(rawValue: 1 << 1)
    public static let structuredOutput = ModelFeatures(rawValue: 1 << 2)
    public static let jsonMode = ModelFeatures(rawValue: 1 << 3)
    /// The model can continue a partial assistant message (used for mid-stream resume).
    public static let prefill = ModelFeatures(rawValue: 1 << 4)
    public static let systemPrompt = ModelFeatures(rawValue: 1 << 5)
    public static let logprobs = ModelFeatures(rawValue: 1 << 6)

    /// YAML names of the features.
    public static let names: [String: ModelFeatures] = [
        "tool_calling": .toolCalling, "vision": .vision, "structured_output": .structuredOutput,
        "json_mode": .jsonMode, "prefill": .prefill, "system_prompt": .systemPrompt, "logprobs": .logprobs,
    ]

    /// The YAML names of the features in this set, sorted.
    public var featureNames: [String] {
        Self.names.filter { contains($0.value) }.map(\.key).sorted()
    }
}

/// Delivery modes a model supports.
public struct DeliveryModes: Sendable, Hashable {
    public var synchronous: Bool
    public var streaming: Bool
    public var batch: Bool

    public init(synchronous: Bool = true, streaming: Bool = true, batch: Bool = false) {
        self.synchronous = synchronous
        self.streaming = streaming
        self.batch = batch
    }
}

/// Price of a model in USD per one million tokens.
public struct ModelPricing: Sendable, Hashable {
    public var inputPerMillion: Double
    public var outputPerMillion: Double
    /// Price of prompt tokens read from the provider's cache (defaults to the input price).
    public var cachedInputPerMillion: Double?
    /// Price of prompt tokens written to the provider's cache (defaults to the input price).
    public var cacheWritePerMillion: Double?
    /// A flat price per request.
    public var perRequest: Double

    public init(
        inputPerMillion: Double, outputPerMillion: Double, cachedInputPerMillion: Double? = nil,
        cacheWritePerMillion: Double? = nil, perRequest: Double = 0
    ) {
        self.inputPerMillion = inputPerMillion
        self.outputPerMillion = outputPerMillion
        self.cachedInputPerMillion = cachedInputPerMillion
        self.cacheWritePerMillion = cacheWritePerMillion
        self.perRequest = perRequest
    }

    /// The cost of `usage` at this price. Cached prompt tokens are priced as cached.
    public func cost(of usage: Usage) -> Double {
        // `promptTokens` counts every prompt token, cache reads and writes included.
        let cached = min(usage.cachedTokens ?? 0, usage.promptTokens)
        let written = min(usage.cacheWriteTokens ?? 0, usage.promptTokens - cached)
        let plainInput = usage.promptTokens - cached - written
        let input = Double(plainInput) * inputPerMillion + Double(cached) * (cachedInputPerMillion ?? inputPerMillion)
            + Double(written) * (cacheWritePerMillion ?? inputPerMillion)
        return (input + Double(usage.completionTokens) * outputPerMillion) / 1_000_000 + perRequest
    }

    /// The cost of a request of `inputTokens` in and at most `outputTokens` out.
    public func cost(inputTokens: Int, outputTokens: Int) -> Double {
        (Double(inputTokens) * inputPerMillion + Double(outputTokens) * outputPerMillion) / 1_000_000 + perRequest
    }
}

/// One model: what it is called, who serves it, what it can do, what it costs.
public struct ModelConfiguration: Sendable, Equatable {
    /// The model id, conventionally `vendor.name`.
    public var id: String
    /// The name sent on the wire (default: the text after the first dot of the id).
    public var name: String
    public var provider: String
    /// Full dotted capability paths.
    public var capabilities: [String]
    public var delivery: DeliveryModes
    public var features: ModelFeatures
    public var contextWindow: Int?
    public var maxOutputTokens: Int?
    public var pricing: ModelPricing?
    public var budget: BudgetLimits?

    public init(
        id: String, name: String? = nil, provider: String, capabilities: [String] = [],
        delivery: DeliveryModes = .init(), features: ModelFeatures = [], contextWindow: Int? = nil,
        maxOutputTokens: Int? = nil, pricing: ModelPricing? = nil, budget: BudgetLimits? = nil
    ) {
        self.id = id
        self.name = name ?? ModelConfiguration.wireName(forID: id)
        self.provider = provider
        self.capabilities = capabilities
        self.delivery = delivery
        self.features = features
        self.contextWindow = contextWindow
        self.maxOutputTokens = maxOutputTokens
        self.pricing = pricing
        self.budget = budget
    }

    /// The wire name for a model id: everything after the first dot, or the id itself.
    public static func wireName(forID id: String) -> String {
        guard let dot = id.firstIndex(of: "."), dot != id.index(before: id.endIndex) else { return id }
        return String(id[id.index(after: dot)...])
    }

    /// `owned_by` for model listings: the text before the first dot, or `unknown`.
    public var ownedBy: String {
        guard let dot = id.firstIndex(of: ".") else { return "unknown" }
        return String(id[..<dot])
    }
}

/// How a pool waits between attempts on one model.
public enum BackoffKind: String, Sendable, Codable, CaseIterable {
    case fixed
    case exponentialJitter = "exponential_jitter"
    /// Wait exactly what `Retry-After` says (falls back to exponential without it).
    case retryAfter = "retry_after"
}

/// Where the attempts of one request may go (`retry.scope`).
public enum RetryScope: String, Sendable, Codable, CaseIterable {
    /// Retries stay on the first model; the request never rotates to another one.
    case sameModel = "same_model"
    /// The request may rotate, but only to models of the first model's provider.
    case sameProvider = "same_provider"
    /// The request may rotate to any model of the pool (the default).
    case any
}

/// Retries on one model and the overall request deadline.
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts on one model, the first included.
    public var maxAttempts: Int = 3
    public var backoff: BackoffKind = .exponentialJitter
    public var initialDelay: Duration = .milliseconds(500)
    public var maxDelay: Duration = .seconds(10)
    /// Bounds the whole request across all models.
    public var timeout: Duration = .seconds(120)
    /// Whether `Retry-After` sets the wait (when it exceeds ``maxDelay`` the request rotates).
    public var honorRetryAfter: Bool = true
    /// Upstream HTTP statuses retried on the same model, after backoff, before the request
    /// rotates (`retry.retryable_codes`). Connection errors are retried whatever this says; a
    /// timeout never is (a silent upstream is not asked again). 529 is Anthropic's "overloaded".
    public var retryableCodes: Set<Int> = [429, 500, 502, 503, 504, 529]
    /// Upstream HTTP statuses never retried on the same model (`retry.non_retryable_codes`).
    /// Whether the request then rotates, deactivates the provider or returns the error is
    /// decided by the error's class (an authentication failure rotates, a bad request returns).
    public var nonRetryableCodes: Set<Int> = [400, 401, 403]
    /// Where the attempts of one request may go (`retry.scope`).
    public var scope: RetryScope = .any

    public init() {}
}

/// When a model leaves ACTIVE.
public struct DeactivationPolicy: Sendable, Hashable {
    /// Consecutive failures that deactivate a model.
    public var retryLimit: Int = 3
    /// Error rate over the last ``errorRateWindow`` requests that deactivates a model.
    public var errorRateThreshold: Double = 0.5
    /// Requests in the error-rate window (the rate is judged only once the window is full).
    public var errorRateWindow: Int = 20
    /// HTTP statuses that count as model failures (timeouts and connection errors always count).
    public var errorCodes: Set<Int> = [429, 500, 502, 503, 504, 529]
    public var requestLimit: Int?
    public var tokenLimit: Int?
    /// USD spent through this pool on the model.
    public var budgetLimit: Double?
    /// Scheduled standby windows (`deactivation.maintenance_window`): while one is open, the
    /// members it covers are filtered out with reason `maintenance_window`.
    public var maintenanceWindows: [MaintenanceWindow] = []

    public init() {}
}

/// How a deactivated model comes back.
public struct RecoveryPolicy: Sendable, Hashable {
    /// Wait after the first deactivation before a half-open probe.
    public var cooldown: Duration = .seconds(60)
    /// Each failed probe multiplies the cooldown by this.
    public var backoffMultiplier: Double = 2
    /// The cooldown never grows past this.
    public var maxCooldown: Duration = .seconds(900)
    /// Probe deactivated models in the background at this interval (nil: probe with traffic only).
    public var probeInterval: Duration?
    /// Emit `model_activated` for each initial member at start-up.
    public var announceOnStart: Bool = false
    /// At start-up, send one recovery probe to every member that starts in standby (state
    /// restored from storage) without waiting for its cooldown (`recovery.probe_on_start`).
    public var probeOnStart: Bool = false

    public init() {}
}

/// What happens when a stream breaks after output reached the caller.
public enum MidStreamPolicy: String, Sendable, Codable, CaseIterable {
    /// Resume on the next model (assistant prefill where the model supports it, else fail).
    case `continue`
    /// End the stream with an in-band error event.
    case fail
}

/// Deadlines of streamed requests.
public struct StreamPolicy: Sendable, Hashable {
    public var firstTokenTimeout: Duration = .seconds(60)
    public var idleTimeout: Duration = .seconds(30)
    public var midStream: MidStreamPolicy = .continue

    public init() {}
}

/// Rate-limit-aware selection settings.
public struct RateLimitPolicy: Sendable, Hashable {
    /// Move away from a model once this fraction of its limit is used.
    public var threshold: Double = 0.8
    /// A local cap on requests per minute per model (0: none).
    public var maxRequestsPerMinute: Int = 0

    public init() {}
}

/// How the load-balanced strategy weighs models (`balance_mode`).
///
/// A model's share of requests is its `model_weights` entry (default 1) times its capacity,
/// normalised over the models available for the request:
/// - ``relative``: capacity is the fraction of its rate limit left (`remaining / limit` from
///   the upstream's `x-ratelimit-*` headers, the smaller of the request and token fractions):
///   models at 0.80, 0.70 and 0.40 get 42 %, 37 % and 21 %.
/// - ``absolute``: capacity is the number of requests left (`x-ratelimit-remaining-requests`):
///   models with 400, 700 and 120 left get 33 %, 57 % and 10 %.
///
/// A model with no rate-limit report yet (or whose reported window has reset) counts with
/// the median capacity of the models that have one; when none has, every capacity is 1 and
/// the split follows `model_weights` alone, in both modes.
public enum BalanceMode: String, Sendable, Codable, CaseIterable {
    case relative
    case absolute
}

/// A capability pool: the models that can serve a capability and how to choose among them.
public struct PoolConfiguration: Sendable, Equatable {
    /// The pool id: the virtual model name clients send.
    public var id: String
    /// A capability alias or dotted path; members are the models covering it.
    public var capability: String?
    /// Explicit members; their order is the priority order.
    public var models: [String]?
    /// Only models of these providers join through ``capability``.
    public var providers: [String]?
    /// A rotation strategy ID (`modelmesh.round-robin.v1`) or short name (`round-robin`).
    public var strategy: String
    public var retry: RetryPolicy
    public var deactivation: DeactivationPolicy
    public var recovery: RecoveryPolicy
    public var stream: StreamPolicy
    public var rateLimit: RateLimitPolicy
    public var budget: BudgetLimits?
    /// Weights for load-balanced selection (default 1 each).
    public var modelWeights: [String: Double]
    /// How load-balanced selection turns weights and rate-limit headroom into shares.
    public var balanceMode: BalanceMode
    public var modelPriority: [String]
    public var providerPriority: [String]
    /// Session affinity lifetime for session-stickiness.
    public var sessionTimeout: Duration
    /// Rotate on a content-policy refusal instead of returning it.
    public var rotateOnContentPolicy: Bool

    public init(
        id: String, capability: String? = nil, models: [String]? = nil, providers: [String]? = nil,
        strategy: String = "modelmesh.stick-until-failure.v1", retry: RetryPolicy = .init(),
        deactivation: DeactivationPolicy = .init(), recovery: RecoveryPolicy = .init(), stream: StreamPolicy = .init(),
        rateLimit: RateLimitPolicy = .init(), budget: BudgetLimits? = nil, modelWeights: [String: Double] = [:],
        modelPriority: [String] = [], providerPriority: [String] = [], sessionTimeout: Duration = .seconds(1800),
        rotateOnContentPolicy: Bool = false, balanceMode: BalanceMode = .relative
    ) {
        self.id = id
        self.capability = capability
        self.models = models
        self.providers = providers
        self.strategy = strategy
        self.retry = retry
        self.deactivation = deactivation
        self.recovery = recovery
        self.stream = stream
        self.rateLimit = rateLimit
        self.budget = budget
        self.modelWeights = modelWeights
        self.modelPriority = modelPriority
        self.providerPriority = providerPriority
        self.sessionTimeout = sessionTimeout
        self.rotateOnContentPolicy = rotateOnContentPolicy
        self.balanceMode = balanceMode
    }
}

/// Spend limits in USD. Days and months are UTC calendar periods.
public struct BudgetLimits: Sendable, Hashable {
    public var daily: Double?
    public var monthly: Double?
    public var perRequest: Double?
    /// Fraction of the daily or monthly limit at which settled spend raises an alert, once
    /// per scope and period (a `warning` trace from component `budget`).
    public var alertThreshold: Double = 0.8
    /// When false, limits are reported but never refuse a request.
    public var enforce: Bool = true

    public init(daily: Double? = nil, monthly: Double? = nil, perRequest: Double? = nil) {
        self.daily = daily
        self.monthly = monthly
        self.perRequest = perRequest
    }

    public var isEmpty: Bool { daily == nil && monthly == nil && perRequest == nil }
}

/// Where secrets come from.
public struct SecretsConfiguration: Sendable {
    /// `modelmesh.env.v1`, `modelmesh.dotenv.v1`, `modelmesh.json-secrets.v1`, `modelmesh.memory.v1`.
    public var store: String = "modelmesh.env.v1"
    /// File of the dotenv and JSON stores.
    public var path: String?
    /// Values of the in-memory store.
    public var values: [String: String] = [:]
    /// A missing secret is an error (otherwise it resolves to an empty string).
    public var failOnMissing: Bool = true

    public init() {}
}

/// When state is written to storage.
public enum SyncPolicy: String, Sendable, Codable, CaseIterable {
    case inMemory = "in-memory"
    case syncOnBoundary = "sync-on-boundary"
    case periodic
    case immediate
}

/// Where model state, cooldowns and budget spend persist.
///
/// Built in code, a configuration keeps state in memory. A file with a `storage:` section
/// gets the local-file store unless it names another connector or `sync_policy: in-memory`;
/// `modelmesh serve` also persists when the file has no `storage:` section at all
/// (``isConfigured`` tells the two apart).
public struct StorageConfiguration: Sendable, Equatable {
    /// `modelmesh.memory.v1` or `modelmesh.local-file.v1`.
    public var connector: String = "modelmesh.memory.v1"
    /// The state directory of the local-file store (default `.modelmesh` under the working
    /// directory).
    public var path: String?
    public var syncPolicy: SyncPolicy = .inMemory
    public var syncInterval: Duration = .seconds(300)
    /// Whether the configuration file had a `storage:` section.
    public var isConfigured = false
    /// The PostgreSQL connection of `modelmesh.postgres.v1` (nil for the other connectors).
    public var postgres: PostgresStorageSettings?
    /// What a request whose budget scopes have limits meets while the shared store is
    /// unreachable (`on_unavailable`).
    public var onUnavailable: StorageUnavailablePolicy = .failClosed
    /// How long the reservations of a replica that stopped reporting stay held (`lease`).
    public var lease: Duration = .seconds(30)
    /// How often a replica reads the shared state even without a notification (`poll_interval`).
    public var pollInterval: Duration = .seconds(1)
    /// The status of `GET /ready` while the shared store is unreachable
    /// (`unavailable_ready_status`): 200 with a degraded body, or 503.
    public var unavailableReadyStatus = 200

    /// Whether state is shared with other replicas through a database.
    public var isShared: Bool { postgres != nil }

    public init() {}

    /// The store `modelmesh serve` uses when the file says nothing about storage: the local
    /// file under the working directory, written after every change.
    public static var persistentDefault: StorageConfiguration {
        var storage = StorageConfiguration()
        storage.connector = "modelmesh.local-file.v1"
        storage.syncPolicy = .immediate
        return storage
    }
}

/// What budgeted requests meet while the shared store is unreachable.
public enum StorageUnavailablePolicy: String, Sendable, CaseIterable {
    /// Refused before any upstream call (`storage_unavailable`, 503).
    case failClosed = "fail_closed"
    /// Served against this replica's last known spend; the spend is written to the store
    /// when it returns.
    case failOpen = "fail_open"
}

/// The connection of the PostgreSQL store: a `url`, or host, port, user, password and
/// database (each may come from the secret store, `${secrets:NAME}`).
public struct PostgresStorageSettings: Sendable, Hashable {
    public var host = "127.0.0.1"
    public var port = 5432
    public var user = "postgres"
    public var password: String?
    public var database: String?
    /// `disable`, `prefer` or `require`.
    public var tls: TLSMode = .disable
    /// The schema holding the mesh's tables (one per mesh; default `modelmesh`).
    public var schema = "modelmesh"
    /// Connections per replica.
    public var poolSize = 8

    public enum TLSMode: String, Sendable, CaseIterable {
        case disable, prefer, require
    }

    public init() {}

    /// Reads `postgres://user:password@host:port/database?sslmode=...`.
    public static func parse(url text: String) -> PostgresStorageSettings? {
        guard let url = URLComponents(string: text), ["postgres", "postgresql"].contains(url.scheme ?? ""),
            let host = url.host, !host.isEmpty
        else { return nil }
        var settings = PostgresStorageSettings()
        settings.host = host
        if let port = url.port { settings.port = port }
        if let user = url.user, !user.isEmpty { settings.user = user.removingPercentEncoding ?? user }
        settings.password = url.password.map { $0.removingPercentEncoding ?? $0 }
        let database = String(url.path.drop { $0 == "/" })
        if !database.isEmpty { settings.database = database }
        switch url.queryItems?.first(where: { $0.name == "sslmode" })?.value {
        case "require", "verify-ca", "verify-full": settings.tls = .require
        case "prefer", "allow": settings.tls = .prefer
        default: break
        }
        return settings
    }
}

/// One observability connector, the channels it receives and the events among them.
public struct ObservabilityConnectorConfiguration: Sendable, Equatable {
    /// The connector ID, e.g. `modelmesh.local-file.v1`.
    public var connector: String
    /// Event types delivered to it (`nil`: all).
    public var events: Set<EventType>?
    /// The channels delivered to it (default: all four). A connector configured under
    /// `observability.routing` receives events only, one under `observability.logging`
    /// request logs only, and so on.
    public var channels: Set<ObservabilityChannel>
    /// Its own settings (`path`, `max_size`, `url`, `headers`, ...).
    public var settings: [String: JSONValue]

    public init(
        connector: String, events: Set<EventType>? = nil, settings: [String: JSONValue] = [:],
        channels: Set<ObservabilityChannel> = Set(ObservabilityChannel.allCases)
    ) {
        self.connector = connector
        self.events = events
        self.channels = channels
        self.settings = settings
    }
}

/// The four observability channels.
public struct ObservabilityConfiguration: Sendable, Equatable {
    /// The configured connectors (default: the console).
    public var connectors: [ObservabilityConnectorConfiguration] = [.init(connector: "modelmesh.console.v1")]
    public var logLevel: RequestLogLevel = .metadata
    public var redactSecrets: Bool = true
    /// The largest prompt or response text a request log entry carries, in UTF-8 bytes
    /// (`logging.max_payload_size`); longer text is cut and marked. `nil`: no limit.
    public var maxPayloadSize: Int?
    public var statisticsFlushInterval: Duration = .seconds(60)
    /// The statistics scopes flushed to connectors (`statistics.scopes`; default all three).
    public var statisticsScopes: Set<StatisticsScopeKind> = Set(StatisticsScopeKind.allCases)
    public var traceMinSeverity: TraceSeverity = .info
    /// OTLP trace export (`observability.tracing` with `connector: modelmesh.otel.v1`); nil: off.
    public var tracing: TraceExportConfiguration?

    public init() {}
}

/// Background discovery and provider health probing.
public struct DiscoveryConfiguration: Sendable, Equatable {
    public var syncEnabled: Bool = false
    public var syncInterval: Duration = .seconds(3600)
    public var healthEnabled: Bool = false
    public var healthInterval: Duration = .seconds(60)
    /// Not read: each health probe is bounded by its provider's timeout, and the YAML key
    /// `discovery.health.timeout` is rejected as not supported.
    public var healthTimeout: Duration = .seconds(10)
    /// Consecutive failed probes that deactivate a provider.
    public var healthFailureThreshold: Int = 3
    /// Models a provider newly lists join the pools whose capability they serve
    /// (`sync.auto_register`, or `sync.on_new_model: register`).
    public var autoRegister: Bool = false
    /// What happens to a model its provider no longer lists (`sync.on_deprecated_model`).
    public var onDeprecatedModel: DeprecatedModelAction = .keep
    /// The providers synced (`sync.providers`; nil: every enabled provider).
    public var syncProviders: [String]?
    /// Capabilities of newly listed models, by name pattern (`sync.capabilities`); the first
    /// matching rule wins, then the vendor catalogue.
    public var capabilityRules: [DiscoveryCapabilityRule] = []

    public init() {}
}

/// What discovery does with a model its provider stopped listing.
public enum DeprecatedModelAction: String, Sendable, CaseIterable {
    /// Report it (`discovery_models_updated`) and leave it where it is.
    case keep
    /// Take it out of routing in every pool (reason `deprecated`) until it is listed again
    /// or activated by hand.
    case deactivate
    /// Remove it from every pool (`pool_membership_changed`).
    case remove
}

/// `discovery.sync.capabilities` entry: models whose wire name matches ``match`` (a pattern
/// where `*` stands for any text) serve ``capabilities``.
public struct DiscoveryCapabilityRule: Sendable, Equatable {
    public var match: String
    /// Full dotted capability paths.
    public var capabilities: [String]
    /// Only models of this provider (nil: any).
    public var provider: String?

    public init(match: String, capabilities: [String], provider: String? = nil) {
        self.match = match
        self.capabilities = capabilities
        self.provider = provider
    }

    /// Whether `name` matches the pattern (`*` matches any run of characters).
    public func matches(_ name: String) -> Bool {
        let parts = match.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
        guard parts.count > 1 else { return name == match }
        var rest = Substring(name)
        guard let first = parts.first, rest.hasPrefix(first) else { return false }
        rest = rest.dropFirst(first.count)
        for part in parts.dropFirst().dropLast() where !part.isEmpty {
            guard let range = rest.range(of: part) else { return false }
            rest = rest[range.upperBound...]
        }
        return rest.hasSuffix(parts.last ?? "")
    }
}

/// The OpenAI-compatible proxy (`modelmesh serve`).
public struct ProxyConfiguration: Sendable, Equatable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    /// Accepted bearer tokens (empty, with no ``adminTokens`` either: no auth).
    public var tokens: [Secret] = []
    /// Tokens for the operator endpoints (`/v1/mesh/models/{id}/activate|deactivate`,
    /// `/v1/mesh/providers/{id}/activate|deactivate`); they are accepted everywhere else too.
    /// With auth on and none configured, the operator endpoints refuse every token.
    public var adminTokens: [Secret] = []
    public var corsOrigins: [String] = []
    /// Largest accepted request body, in bytes.
    public var bodyLimit: Int = 10 * 1024 * 1024
    /// Enabled endpoint paths (empty: all).
    public var endpoints: [String] = []
    /// Local rate limit in requests per minute (0: off).
    public var rateLimitPerMinute: Int = 0
    public var rateLimitBurst: Int = 20
    /// How long shutdown waits for in-flight requests and streams.
    public var shutdownTimeout: Duration = .seconds(30)
    /// Timeouts and sizes at the client edge (`proxy.limits`).
    public var limits = Limits()

    public init() {}

    /// What one client connection may take from the proxy before it is answered with an
    /// error and closed (`proxy.limits`).
    ///
    /// The defaults keep slow or idle clients from holding connections open while leaving
    /// ordinary clients and long streamed answers alone; none of the timeouts applies while
    /// the proxy is answering a request.
    ///
    /// ```yaml
    /// proxy:
    ///   limits: {head_timeout: 10s, idle_timeout: 60s, body_timeout: 30s,
    ///            max_header_size: 32KB, max_headers: 100, max_connections: 4096,
    ///            max_upstream_body: 64MB, max_sse_event: 16MB, max_stream_duration: 10m}
    /// ```
    public struct Limits: Sendable, Hashable {
        /// How long a client has to send a complete request head, from the first byte of the
        /// request (or from connecting); then it gets 408 and the connection closes.
        public var headTimeout: Duration = .seconds(10)
        /// How long a keep-alive connection may sit between requests before it is closed.
        public var idleTimeout: Duration = .seconds(60)
        /// How long a request body may stall (no bytes arriving) before it is cut with 408.
        public var bodyTimeout: Duration = .seconds(30)
        /// Largest request head in bytes (all header fields together, and any single one);
        /// larger heads get 431.
        public var maxHeaderSize: Int = 32 * 1024
        /// Most header fields in one request; more get 431.
        public var maxHeaders: Int = 100
        /// Most client connections open at once; a connection beyond it gets 503
        /// (`too_many_connections`) to its first request and is closed.
        public var maxConnections: Int = 4096
        /// Largest non-streamed upstream answer accepted; a larger one fails the attempt
        /// (and the request rotates), so one upstream cannot fill the proxy's memory.
        public var maxUpstreamBody: Int = 64 * 1024 * 1024
        /// Largest server-sent event (or line of one) accepted from an upstream stream; a
        /// larger one breaks the stream like a cut connection.
        public var maxSSEEvent: Int = 16 * 1024 * 1024
        /// How long one upstream stream may last, however lively; nil (the default) for no
        /// limit. A stream cut by it fails over like a stalled one.
        public var maxStreamDuration: Duration?

        public init() {}
    }
}
