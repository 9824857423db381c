import Foundation

/// Background work: statistics flushes, discovery, provider health probes, recovery
/// probes of standby models, authenticated probes of providers out for bad credentials,
/// and state persistence.
extension Mesh {
    /// Runs the mesh's background work until the task is cancelled: the statistics
    /// flusher, provider health probes (`discovery.health`), background recovery probes
    /// (`recovery.probe_interval`), credential probes of providers deactivated by a 401/403
    /// (always on: a listing of models every 30 s at first, doubling up to 15 min), and
    /// periodic or immediate state saving. The proxy runs this as a service; library users
    /// may run it in a task of their own.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.probeOnStart() }
            group.addTask {
                await self.statistics.run(
                    every: self.configuration.observability.statisticsFlushInterval, emitter: self.events)
            }
            if configuration.discovery.syncEnabled {
                group.addTask {
                    await self.repeating(every: self.configuration.discovery.syncInterval, first: true) {
                        await self.syncDiscovery()
                    }
                }
            }
            if configuration.discovery.healthEnabled {
                group.addTask {
                    await self.repeating(every: self.configuration.discovery.healthInterval) {
                        await self.probeProviders()
                    }
                }
            }
            group.addTask {
                await self.repeating(every: CredentialProbeSchedule.tick) { await self.probeCredentials() }
            }
            group.addTask { await self.runStatePersistence() }
            if let shared = health.shared {
                group.addTask { await shared.run(health: self.health) }
            }
            group.addTask { await self.probeStandbyModelsPeriodically() }
        }
    }

    /// Background recovery probes every `recovery.probe_interval` (the shortest of the
    /// pools'), read again after each round and each reload; with none configured, waits
    /// for a reload that configures one.
    func probeStandbyModelsPeriodically() async {
        while !Task.isCancelled {
            guard let interval = topology.pools.compactMap(\.configuration.recovery.probeInterval).min() else {
                await topologyChanged.wait()
                continue
            }
            do { try await clock.sleep(for: interval) } catch { return }
            await probeStandbyModels()
        }
    }

    /// Runs `work` every `interval` on the mesh's clock until the task is cancelled.
    func repeating(every interval: Duration, first: Bool = false, _ work: () async -> Void) async {
        if first { await work() }
        while !Task.isCancelled {
            do { try await clock.sleep(for: interval) } catch { return }
            await work()
        }
    }

    /// Sends one small request to every standby model whose cooldown has passed; a success
    /// brings it back (`model_activated`, trigger `probe_success`) and counts for its
    /// provider's health like traffic does; a failure extends its cooldown.
    public func probeStandbyModels() async {
        let now = clock.now()
        for pool in topology.pools {
            for status in pool.describeMembers(now: now) where status.probeDue {
                guard let handle = topology.handles[status.modelID], pool.claimProbe(status.modelID, now: now) else {
                    continue
                }
                await probe(handle, in: pool)
            }
        }
    }

    /// For pools with `recovery.probe_on_start`: probes every member that starts out in
    /// standby (restored from storage) at once, without waiting for its cooldown. Models out
    /// manually, for a usage limit or with their provider are left alone.
    public func probeOnStart() async {
        let now = clock.now()
        for pool in topology.pools where pool.configuration.recovery.probeOnStart {
            for status in pool.describeMembers(now: now) where status.state == .standby {
                guard let handle = topology.handles[status.modelID], pool.claimEarlyProbe(status.modelID, now: now)
                else { continue }
                await probe(handle, in: pool)
            }
        }
    }

    /// One recovery probe whose slot the caller claimed.
    private func probe(_ handle: ModelHandle, in pool: CapabilityPool) async {
        let model = handle.model
        guard let connector = handle.connector else {
            health.abandoned(model, pool: pool)
            return
        }
        let probe = ChatCompletionRequest(model: model.name, messages: [.user("ping")], maxTokens: 1)
        let started = clock.now()
        // A probe is a real call: it is paid for like traffic, and not sent over budget.
        let estimate = RequestProfile(chat: probe, streaming: false, sessionKey: nil).estimatedCost(on: model)
        guard await router.claimSharedProbe(model, pool: pool),
            case .success(let reservation) = await router.reserve(model, pool: pool, estimate: estimate)
        else {
            health.abandoned(model, pool: pool)
            return
        }
        let context = AttemptContext(requestID: RequestID.next(), deadline: started.adding(.seconds(30)), clock: clock)
        do {
            let result = try await connector.complete(probe, target: handle.target, context: context)
            let usage = result.completion.usage
            router.settle(reservation, actual: usage.flatMap { model.pricing?.cost(of: $0) })
            health.succeeded(
                handle, pool: pool, latency: clock.now().timeIntervalSince(started), usage: usage,
                rateLimit: result.rateLimit, context: SelectionContext(poolID: pool.id, now: clock.now()))
        } catch {
            router.release(reservation)
            health.failed(model, pool: pool, error: ProviderError.classify(error))
        }
    }

    /// Probes every provider once with its health check: a provider out because of an
    /// outage or failed probes comes back on success; one failing
    /// `discovery.health_failure_threshold` probes in a row is taken out.
    public func probeProviders() async {
        for (id, connector) in topology.connectors {
            do {
                try await connector.healthCheck()
                health.providerProbed(id, error: nil, failureThreshold: configuration.discovery.healthFailureThreshold)
            } catch {
                health.providerProbed(id, error: error, failureThreshold: configuration.discovery.healthFailureThreshold)
            }
        }
    }

    /// Lists the models of every provider that is out for bad credentials and whose next
    /// probe is due: an answer means the credentials work again and the provider comes
    /// back (`provider_recovered`, trigger `credentials_probe_success`); a failure doubles
    /// the wait before the next probe.
    public func probeCredentials() async {
        let now = clock.now()
        for (id, connector) in topology.connectors.sorted(by: { $0.key < $1.key }) {
            guard let state = topology.providerHealth[id]?.snapshot, state.deactivation == .authFailure,
                credentialProbes.isDue(id, deactivatedAt: state.deactivatedAt, now: now)
            else { continue }
            do {
                _ = try await connector.listModels()
                credentialProbes.reset(id)
                health.credentialsAccepted(id)
            } catch {
                credentialProbes.failed(id, now: clock.now())
                logger.info(
                    "Credentials of a deactivated provider are still refused",
                    metadata: ["provider": "\(id)", "error": "\(ProviderError.classify(error).errorClass.rawValue)"])
            }
        }
    }
}
