import Foundation
import ModelMesh
import ModelMeshTesting
import Testing

@Suite struct FailoverTests {
    @Test func rotatesInsideTheSameRequestAfterRetries() async throws {
        let primary = MockProvider(script: Array(repeating: .fail(.serverError, status: 503), count: 3))
        let backup = MockProvider(fallback: .reply("from backup"))
        let f = try MeshFixture(models: [("a", primary), ("b", backup)])

        let result = try await f.ask()

        #expect(result.value.text == "from backup")
        #expect(result.modelID == "b")
        #expect(primary.callCount == 3)
        #expect(result.attempts.map(\.modelID) == ["a", "a", "a", "b"])
        // Exponential backoff with jitter factor 1: 500ms, then 1s; no wait before rotating.
        #expect(f.clock.sleeps == [.milliseconds(500), .seconds(1)])
        let rotations = f.recorder.events(.modelRotated)
        #expect(rotations.count == 1)
        #expect(rotations.first?.metadata["from_model"] == "a")
        #expect(rotations.first?.metadata["to_model"] == "b")
        #expect(rotations.first?.metadata["reason"] == "server_error")
        #expect(rotations.first?.modelID == "b")
        #expect(rotations.first?.poolID == "chat")
    }

    @Test func retryOnTheSameModelEmitsNoRotation() async throws {
        let primary = MockProvider(script: [.fail(.serverError, status: 500)], fallback: .reply("second try"))
        let f = try MeshFixture(models: [("a", primary), ("b", MockProvider())])

        let result = try await f.ask()

        #expect(result.value.text == "second try")
        #expect(primary.callCount == 2)
        #expect(f.recorder.events(.modelRotated).isEmpty)
    }

    @Test func honoursRetryAfter() async throws {
        let primary = MockProvider(
            script: [.fail(.rateLimited, status: 429, retryAfter: .seconds(3))], fallback: .reply("ok"))
        let f = try MeshFixture(models: [("a", primary), ("b", MockProvider())])

        _ = try await f.ask()

        #expect(f.clock.sleeps == [.seconds(3)])
        #expect(primary.callCount == 2)
    }

    @Test func retryAfterBeyondMaxDelayRotatesInsteadOfWaiting() async throws {
        let primary = MockProvider(script: [.fail(.rateLimited, status: 429, retryAfter: .seconds(60))])
        let backup = MockProvider(fallback: .reply("backup"))
        let f = try MeshFixture(models: [("a", primary), ("b", backup)])

        let result = try await f.ask()

        #expect(result.modelID == "b")
        #expect(f.clock.sleeps.isEmpty)
        #expect(primary.callCount == 1)
    }

    @Test func fixedBackoffAndMaxAttempts() async throws {
        let primary = MockProvider(script: Array(repeating: .fail(.connection), count: 5))
        let f = try MeshFixture(models: [("a", primary), ("b", MockProvider())]) { pool in
            pool.retry.maxAttempts = 4
            pool.retry.backoff = .fixed
            pool.retry.initialDelay = .milliseconds(200)
            pool.deactivation.retryLimit = 10
        }

        let result = try await f.ask()

        #expect(result.modelID == "b")
        #expect(primary.callCount == 4)
        #expect(f.clock.sleeps == Array(repeating: .milliseconds(200), count: 3))
    }

    @Test func exponentialBackoffIsCappedByMaxDelay() {
        var retry = RetryPolicy()
        retry.initialDelay = .seconds(1)
        retry.maxDelay = .seconds(5)
        #expect(retry.delay(afterAttempt: 1, retryAfter: nil, jitter: 1) == .seconds(1))
        #expect(retry.delay(afterAttempt: 3, retryAfter: nil, jitter: 1) == .seconds(4))
        #expect(retry.delay(afterAttempt: 4, retryAfter: nil, jitter: 1) == .seconds(5))
        #expect(retry.delay(afterAttempt: 4, retryAfter: nil, jitter: 0.5) == .seconds(2.5))
        // Jitter outside its range is clamped.
        #expect(retry.delay(afterAttempt: 1, retryAfter: nil, jitter: 7) == .seconds(1))
    }

    @Test func silentUpstreamIsCutAndNotRetriedOnTheSameModel() async throws {
        let primary = MockProvider(script: [.hang])
        let backup = MockProvider(fallback: .reply("backup"))
        let f = try MeshFixture(
            models: [("a", primary), ("b", backup)],
            configure: { $0.providers[0].timeout = .seconds(5) })

        let result = try await f.ask()

        #expect(result.modelID == "b")
        #expect(primary.callCount == 1)
        #expect(result.attempts.first?.errorClass == "timeout")
        // The hang consumed exactly the provider's attempt timeout on the virtual clock.
        #expect(f.clock.sleeps == [.seconds(5)])
    }

    @Test func overallDeadlineBoundsAllAttempts() async throws {
        let primary = MockProvider(script: [.hang])
        let backup = MockProvider(script: [.hang])
        let f = try MeshFixture(models: [("a", primary), ("b", backup)]) { $0.retry.timeout = .seconds(10) }

        await #expect {
            _ = try await f.ask()
        } throws: { error in
            (error as? ModelMeshError)?.code == .timeout || (error as? ModelMeshError)?.code == .allCandidatesFailed
        }
        // The first hang used the whole deadline; the second model had no time left.
        #expect(f.clock.sleeps.reduce(Duration.zero, +) <= Duration.seconds(10))
    }

    @Test func authFailureDeactivatesTheProviderAndRotates() async throws {
        let primary = MockProvider(script: [.fail(.authentication, status: 401, message: "invalid api key")])
        let backup = MockProvider(fallback: .reply("backup"))
        let f = try MeshFixture(models: [("a", primary), ("b", backup)])

        let first = try await f.ask()
        let second = try await f.ask()

        #expect(first.modelID == "b")
        #expect(second.modelID == "b")
        #expect(primary.callCount == 1)
        let providerEvents = f.recorder.events(.providerDeactivated)
        #expect(providerEvents.count == 1)
        #expect(providerEvents.first?.providerID == "p-a")
        #expect(providerEvents.first?.metadata["reason"] == "auth_failure")
        #expect(providerEvents.first?.metadata["models"] == ["a"])
        let modelEvents = f.recorder.events(.modelDeactivated)
        #expect(modelEvents.map(\.modelID) == ["a"])
        #expect(modelEvents.first?.metadata["reason"] == "provider_deactivated")
    }

    @Test func contextLengthRotatesOnlyToALargerWindow() async throws {
        let small = MockProvider(script: [.fail(.contextLength, status: 400, message: "too long")])
        let alsoSmall = MockProvider(fallback: .reply("should not be used"))
        let large = MockProvider(fallback: .reply("large"))
        let f = try MeshFixture(
            models: [("small", small), ("same", alsoSmall), ("large", large)],
            configure: { config in
                config.models[0].contextWindow = 8_000
                config.models[1].contextWindow = 8_000
                config.models[2].contextWindow = 128_000
            })

        let result = try await f.ask()

        #expect(result.modelID == "large")
        #expect(small.callCount == 1)
        #expect(alsoSmall.callCount == 0)
    }

    @Test func contentPolicyIsReturnedWithoutRotating() async throws {
        let primary = MockProvider(script: [.fail(.contentPolicy, status: 400, message: "refused by policy")])
        let backup = MockProvider()
        let f = try MeshFixture(models: [("a", primary), ("b", backup)])

        await #expect {
            _ = try await f.ask()
        } throws: { error in
            let e = error as? ModelMeshError
            return e?.code == .contentPolicy && e?.status == 400 && e?.message == "refused by policy"
        }
        #expect(backup.callCount == 0)
        #expect(f.recorder.events(.modelRotated).isEmpty)
    }

    @Test func otherClientErrorsAreReturnedWithoutRotating() async throws {
        let primary = MockProvider(script: [.fail(.invalidRequest, status: 422, message: "bad temperature")])
        let backup = MockProvider()
        let f = try MeshFixture(models: [("a", primary), ("b", backup)])

        await #expect {
            _ = try await f.ask()
        } throws: { ($0 as? ModelMeshError)?.status == 422 }
        #expect(backup.callCount == 0)
        #expect(primary.callCount == 1)
    }

    @Test func everyCandidateFailingNamesEachAttempt() async throws {
        let a = MockProvider(fallback: .fail(.serverError, status: 503))
        let b = MockProvider(fallback: .fail(.timeout))
        let f = try MeshFixture(models: [("a", a), ("b", b)]) { $0.retry.maxAttempts = 1 }

        await #expect {
            _ = try await f.ask()
        } throws: { error in
            guard let e = error as? ModelMeshError else { return false }
            return e.code == .allCandidatesFailed && e.status == 502 && e.message.contains("a (server_error 503)")
                && e.message.contains("b (timeout)") && e.attempts.count == 2
        }
    }

    @Test func unknownModelSuggestsNearestNames() async throws {
        let f = try MeshFixture(models: [("a", MockProvider())])
        await #expect {
            _ = try await f.ask("chatt")
        } throws: { error in
            let e = error as? ModelMeshError
            return e?.code == .modelNotFound && e?.status == 404 && e?.suggestions.contains("chat") == true
        }
    }

    @Test func resolvesCapabilityAliasesAndModelIDs() async throws {
        let a = MockProvider(fallback: .reply("A"))
        let b = MockProvider(fallback: .reply("B"))
        let f = try MeshFixture(models: [("vendor.a", a), ("vendor.b", b)])

        #expect(try await f.ask("chat-completion").poolID == "chat")
        #expect(try await f.ask("generation.text-generation").poolID == "chat")
        let direct = try await f.ask("vendor.b")
        #expect(direct.modelID == "vendor.b")
        #expect(direct.value.text == "B")
        // The wire name is the text after the first dot.
        #expect(b.calls.last?.target.wireName == "b")
        #expect(b.calls.last?.request?.model == "b")
    }
}
