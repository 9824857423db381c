import Foundation
import Synchronization

/// The one owner of outcomes: every success, failure, probe result and operator action
/// reaches model and provider state through here, and so do the strategy callbacks, the
/// statistics of state changes and the lifecycle events. The attempt loop, the stream
/// relay, background probes and the operator API all report to it; none of them touches
/// a pool's or a provider's state, or the emitter, directly.
final class HealthCoordinator: Sendable {
    let topologyCell: TopologyCell
    var topology: MeshTopology { topologyCell.current }
    let emitter: EventEmitter
    let statistics: StatisticsCollector
    let clock: any MeshClock
    /// Signalled on every change worth persisting.
    let stateChanged: StateChangeSignal
    /// Models that refused an assistant prefill when resuming a stream.
    private let prefillRejections = Mutex<Set<String>>([])
    /// The other replicas' view: this replica's transitions go there (nil: one process).
    let shared: SharedState?

    init(
        topology: TopologyCell, emitter: EventEmitter, statistics: StatisticsCollector, clock: any MeshClock,
        stateChanged: StateChangeSignal = StateChangeSignal(enabled: false), shared: SharedState? = nil
    ) {
        self.shared = shared
        topologyCell = topology
        self.stateChanged = stateChanged
        self.emitter = emitter
        self.statistics = statistics
        self.clock = clock
    }

    // MARK: Traffic

    /// The pool that now holds `pool`'s state: `pool` itself, or after a reload replaced it,
    /// its successor, so a request that started before the reload reports to the live state.
    @inline(__always)
    func live(_ pool: CapabilityPool) -> CapabilityPool {
        guard pool.isRetired else { return pool }
        let topology = topology
        return topology.poolsByID[pool.id] ?? topology.modelRoutes[pool.id] ?? pool
    }

    /// Transitions the filter stage made (a quota window rolled over).
    func planned(_ transitions: [(String, String, HealthTransition)], pool: CapabilityPool) {
        for (model, provider, transition) in transitions {
            publish(transition, model: model, provider: provider, pool: pool)
        }
    }

    /// A request is about to be sent to `model`.
    func attemptStarted(_ model: String, pool: CapabilityPool) {
        live(pool).recordStart(model, now: clock.now())
    }

    /// A successful attempt or probe: model health, latency, usage counters, the
    /// strategy, and the provider's health (an outage ends with its first success).
    func succeeded(
        _ handle: ModelHandle, pool: CapabilityPool, latency: Double, usage: Usage?, rateLimit: RateLimitStatus?,
        context: SelectionContext
    ) {
        let pool = live(pool)
        let model = handle.model
        let now = clock.now()
        let cost = usage.flatMap { u in model.pricing?.cost(of: u) } ?? 0
        // With several replicas, usage limits are checked against the mesh's counters (SharedState).
        let transitions = pool.recordSuccess(
            model.id, latency: latency, tokens: usage?.totalTokens ?? 0, cost: cost, rateLimit: rateLimit,
            checkLimits: shared == nil, now: now)
        for t in transitions { publish(t, model: model.id, provider: model.provider, pool: pool) }
        // Usage counters behind request, token and budget limits moved.
        stateChanged.signal()
        pool.strategy.didSucceed(modelID: model.id, context: context)
        if let health = handle.provider {
            if let change = health.record(success: true) { publishHealth(change, provider: model.provider) }
            if health.snapshot.deactivation == .outage { recoverProvider(model.provider, trigger: "traffic_success") }
        }
    }

    /// A failed attempt or probe.
    func failed(_ model: ModelConfiguration, pool: CapabilityPool, error: ProviderError) {
        let pool = live(pool)
        if let t = pool.recordFailure(model.id, error: error, now: clock.now()) {
            publish(t, model: model.id, provider: model.provider, pool: pool)
        } else if let shared, pool.state(of: model.id) == .standby {
            // A failed probe lengthened the cooldown: the other replicas wait as long.
            shared.changed(SharedState.modelKey(pool: pool.id, model: model.id))
        }
        if error.errorClass.countsAsModelFailure,
            let change = topology.providerHealth[model.provider]?.record(success: false)
        {
            publishHealth(change, provider: model.provider)
        }
    }

    /// The caller went away during an attempt: frees a probe slot, counts nothing.
    func abandoned(_ model: ModelConfiguration, pool: CapabilityPool) {
        _ = live(pool).recordFailure(model.id, error: ProviderError(.cancelled, message: "cancelled"), now: clock.now())
    }

    /// Spend was settled: the budget ledger changed.
    func spendChanged() { stateChanged.signal() }

    /// A request moved from one model to another.
    func rotated(from: String, to model: ModelConfiguration, pool: CapabilityPool, reason: String, requestID: String) {
        statistics.recordRotation(pool: pool.id)
        emitter.emit(
            RoutingEvent(
                eventType: .modelRotated, timestamp: clock.now(), modelID: model.id, providerID: model.provider,
                poolID: pool.id,
                metadata: ["from_model": .string(from), "to_model": .string(model.id), "reason": .string(reason),
                    "request_id": .string(requestID)]))
    }

    /// Whether every model of `provider` is out for health reasons in every pool holding
    /// one: then the provider is in an outage.
    func checkOutage(of provider: String) {
        let verdicts = topology.allPools.compactMap { $0.allFailing(provider: provider) }
        if !verdicts.isEmpty, verdicts.allSatisfy({ $0 }) {
            deactivateProvider(provider, reason: .outage, detail: "every model of the provider is failing")
        }
    }

    // MARK: Prefill

    /// A model refused an assistant prefill; streams are no longer resumed on it.
    func rejectedPrefill(_ model: String) {
        prefillRejections.withLock { _ = $0.insert(model) }
    }

    /// Whether a stream may be resumed on `model` with an assistant prefill.
    func acceptsPrefill(_ model: ModelConfiguration) -> Bool {
        model.features.contains(.prefill) && !prefillRejections.withLock { $0.contains(model.id) }
    }

    /// Models that refused a prefill, for `/v1/mesh/state`.
    var modelsRejectingPrefill: Set<String> { prefillRejections.withLock { $0 } }

    // MARK: Operator actions

    /// Returns a model to ACTIVE in `pools`; the number of pools where it changed.
    func activate(
        _ model: String, in pools: [CapabilityPool], trigger: String, onlyIf reason: DeactivationReason? = nil
    ) -> Int {
        change(model, in: pools) { $0.activate(model, trigger: trigger, onlyIf: reason, now: clock.now()) }
    }

    /// Takes a model out of `pools`; the number of pools where it changed.
    func deactivate(_ model: String, in pools: [CapabilityPool], reason: DeactivationReason) -> Int {
        change(model, in: pools) { $0.deactivate(model, reason: reason, now: clock.now()) }
    }

    private func change(
        _ model: String, in pools: [CapabilityPool], _ transition: (CapabilityPool) -> HealthTransition?
    ) -> Int {
        var changed = 0
        for pool in pools {
            if let t = transition(pool) {
                publish(t, model: model, provider: topology.models[model]?.provider ?? "", pool: pool)
                changed += 1
            }
        }
        return changed
    }

    // MARK: Restart

    /// Restores a pool's saved member states.
    func restore(_ saved: [String: MeshStateSnapshot.Member], in pool: CapabilityPool) {
        pool.restoreMembers(saved)
    }

    /// Restores a provider's saved deactivation, unless its settings changed since (a
    /// manual deactivation stays whatever changed): then its models that were out with
    /// it come back without an event, as they were never out under these settings.
    func restoreProvider(_ provider: String, reason: ProviderDeactivationReason, settingsChanged: Bool) {
        guard let health = topology.providerHealth[provider] else { return }
        if settingsChanged, reason != .manual {
            for pool in topology.allPools {
                for model in pool.models where model.provider == provider {
                    _ = pool.activate(model.id, trigger: "settings_changed", onlyIf: .providerDeactivated, now: clock.now())
                }
            }
            return
        }
        health.restore(reason)
    }

    // MARK: Replicas

    /// The provider state other replicas read.
    struct SharedProviderState: Codable {
        var deactivation: ProviderDeactivationReason?
    }

    /// This replica's current state of a shared key, to publish.
    func sharedRecord(for key: String, origin: String) -> SharedHealthRecord? {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        if key.hasPrefix("provider:") {
            guard let health = topology.providerHealth[String(key.dropFirst("provider:".count))],
                let data = try? encoder.encode(SharedProviderState(deactivation: health.snapshot.deactivation))
            else { return nil }
            return SharedHealthRecord(key: key, payload: String(decoding: data, as: UTF8.self), origin: origin)
        }
        guard let (pool, model) = poolAndModel(key), var member = pool.persistedMembers()[model] else {
            return nil
        }
        // Usage counters stay per replica.
        member.usage = nil
        guard let data = try? encoder.encode(member) else { return nil }
        return SharedHealthRecord(key: key, payload: String(decoding: data, as: UTF8.self), origin: origin)
    }

    /// Takes over a state another replica published. No event: that replica emitted it.
    func adoptShared(_ record: SharedHealthRecord) {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let data = Data(record.payload.utf8)
        if record.key.hasPrefix("provider:") {
            let id = String(record.key.dropFirst("provider:".count))
            guard let health = topology.providerHealth[id],
                let state = try? decoder.decode(SharedProviderState.self, from: data)
            else { return }
            if let reason = state.deactivation { health.restore(reason) } else { _ = health.recover() }
            return
        }
        guard let (pool, model) = poolAndModel(record.key),
            let member = try? decoder.decode(MeshStateSnapshot.Member.self, from: data)
        else { return }
        pool.adopt(model, member, now: clock.now())
        stateChanged.signal()
    }

    private func poolAndModel(_ key: String) -> (CapabilityPool, String)? { Self.poolAndModel(key, topology) }

    // MARK: Shared usage counters

    /// `usage:chat/openai.gpt-4o|d:2026-12-03`
    static func usageKey(pool: String, model: String, day: String) -> String { "usage:\(pool)/\(model)|d:\(day)" }

    /// The usage counted here since the last call, per model and day (handed over).
    func takeUnsyncedUsage() -> [SharedUsageRow] {
        topology.allPools.flatMap { pool in
            pool.takeUnsyncedUsage().map { item in
                SharedUsageRow(
                    key: Self.usageKey(pool: pool.id, model: item.modelID, day: item.windowKey),
                    requests: Int64(item.delta.requests), tokens: Int64(item.delta.tokens),
                    cost: NanoDollars.from(item.delta.cost))
            }
        }
    }

    /// Gives back usage that could not be shared.
    func restoreUnsyncedUsage(_ rows: [SharedUsageRow]) {
        for row in rows {
            guard let (pool, model, day) = usageTarget(row.key) else { continue }
            pool.restoreUnsyncedUsage(model, Self.delta(row), windowKey: day)
        }
    }

    /// Applies the mesh's usage totals. A model whose totals reached a usage limit goes out
    /// on every replica; the replica whose own addition took it there reports it.
    func absorbSharedUsage(_ totals: [SharedUsageRow], added: [SharedUsageRow]) {
        let own = Dictionary(added.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        let now = clock.now()
        for row in totals {
            guard let (pool, model, day) = usageTarget(row.key) else { continue }
            let delta = row.isOwn ? own[row.key].map(Self.delta) : nil
            guard let (transition, announce) = pool.absorbSharedUsage(
                model, windowKey: day, total: Self.delta(row), crossedBy: delta, now: now)
            else { continue }
            if announce, let provider = pool.models.first(where: { $0.id == model })?.provider {
                publish(transition, model: model, provider: provider, pool: pool)
            }
        }
        stateChanged.signal()
    }

    private static func delta(_ row: SharedUsageRow) -> ModelHealth.UsageDelta {
        ModelHealth.UsageDelta(requests: Int(row.requests), tokens: Int(row.tokens), cost: NanoDollars.usd(row.cost))
    }

    private func usageTarget(_ key: String) -> (CapabilityPool, String, String)? {
        guard key.hasPrefix("usage:"), let bar = key.range(of: "|d:", options: .backwards) else { return nil }
        let day = String(key[bar.upperBound...])
        guard let (pool, model) = poolAndModel("model:" + key[key.index(key.startIndex, offsetBy: 6)..<bar.lowerBound])
        else { return nil }
        return (pool, model, day)
    }

    private static func poolAndModel(_ key: String, _ topology: MeshTopology) -> (CapabilityPool, String)? {
        guard key.hasPrefix("model:") else { return nil }
        let rest = key.dropFirst("model:".count)
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        let poolID = String(rest[..<slash])
        guard let pool = topology.allPools.first(where: { $0.id == poolID }) else { return nil }
        return (pool, String(rest[rest.index(after: slash)...]))
    }

    // MARK: Providers

    /// A provider health probe's result (`discovery.health`).
    func providerProbed(_ provider: String, error: (any Error)?, failureThreshold: Int) {
        guard let health = topology.providerHealth[provider] else { return }
        if let error {
            if let change = health.record(success: false) { publishHealth(change, provider: provider) }
            if health.recordProbeFailure() >= failureThreshold {
                deactivateProvider(
                    provider, reason: .healthProbeFailed, detail: "\(ProviderError.classify(error))")
            }
        } else {
            if let change = health.record(success: true) { publishHealth(change, provider: provider) }
            if let reason = health.snapshot.deactivation, reason != .manual {
                recoverProvider(provider, trigger: "probe_success")
            }
        }
    }

    /// An authenticated probe (a model listing) of a provider out for bad credentials
    /// succeeded: the credentials work again. A failed probe leaves it out.
    func credentialsAccepted(_ provider: String) {
        guard topology.providerHealth[provider]?.snapshot.deactivation == .authFailure else { return }
        recoverProvider(provider, trigger: "credentials_probe_success")
    }

    func deactivateProvider(_ provider: String, reason: ProviderDeactivationReason, detail: String) {
        guard let health = topology.providerHealth[provider], health.deactivate(reason, at: clock.now()) else { return }
        stateChanged.signal()
        shared?.changed(SharedState.providerKey(provider))
        let pools = topology.allPools
        let affected = Array(Set(pools.flatMap { $0.models.filter { $0.provider == provider }.map(\.id) })).sorted()
        emitter.emit(
            RoutingEvent(
                eventType: .providerDeactivated, timestamp: clock.now(), providerID: provider,
                metadata: ["reason": .string(reason.rawValue), "models": .array(affected.map(JSONValue.string)),
                    "detail": .string(detail)]))
        for pool in pools {
            for model in pool.models where model.provider == provider {
                if let t = pool.deactivate(model.id, reason: .providerDeactivated, now: clock.now()) {
                    publish(t, model: model.id, provider: provider, pool: pool)
                }
            }
        }
    }

    func recoverProvider(_ provider: String, trigger: String) {
        guard let health = topology.providerHealth[provider], health.recover() else { return }
        stateChanged.signal()
        shared?.changed(SharedState.providerKey(provider))
        emitter.emit(
            RoutingEvent(
                eventType: .providerRecovered, timestamp: clock.now(), providerID: provider,
                metadata: ["trigger": .string(trigger)]))
        for pool in topology.allPools {
            for model in pool.models where model.provider == provider {
                if let t = pool.activate(
                    model.id, trigger: "provider_recovered", onlyIf: .providerDeactivated, now: clock.now())
                {
                    publish(t, model: model.id, provider: provider, pool: pool)
                }
            }
        }
    }

    // MARK: Events

    private func publish(_ transition: HealthTransition, model: String, provider: String, pool: CapabilityPool) {
        stateChanged.signal()
        shared?.changed(SharedState.modelKey(pool: pool.id, model: model))
        let now = clock.now()
        switch transition {
        case .deactivated(let reason, let until):
            var metadata: [String: JSONValue] = ["reason": .string(reason.rawValue)]
            metadata["cooldown_until"] = until.map { .string(Timestamp.format($0)) } ?? .null
            emitter.emit(
                RoutingEvent(
                    eventType: .modelDeactivated, timestamp: now, modelID: model, providerID: provider, poolID: pool.id,
                    metadata: metadata))
            statistics.modelLeftActive(model, at: now)
        case .activated(let trigger):
            emitter.emit(
                RoutingEvent(
                    eventType: .modelActivated, timestamp: now, modelID: model, providerID: provider, poolID: pool.id,
                    metadata: ["trigger": .string(trigger)]))
            statistics.modelReturned(model, at: now)
            pool.strategy.didActivate(modelID: model)
        }
    }

    private func publishHealth(_ change: ProviderHealth.Change, provider: String) {
        switch change {
        case .band(let old, let new, let band):
            emitter.emit(
                RoutingEvent(
                    eventType: .providerHealthChanged, timestamp: clock.now(), providerID: provider,
                    metadata: ["old_score": .double(Self.rounded(old)), "new_score": .double(Self.rounded(new)),
                        "state": .string(band.rawValue)]))
        }
    }

    static func rounded(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
}
