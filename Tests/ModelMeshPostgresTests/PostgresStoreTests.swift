import Foundation
import ModelMesh
import ModelMeshPostgres
import Testing

extension PostgresTests {
    @Suite("PostgreSQL store", .timeLimit(.minutes(2)))
    struct PostgresStoreTests {
        @Test("Replicas migrating at once apply each migration once")
        func concurrentMigrations() async throws {
            let settings = try TestPostgres.settings()
            let stores = (0..<3).map { _ in PostgresStateStore(settings: settings) }
            let (applied, version) = try await withStore(stores[0]) { a in
                try await withStore(stores[1]) { b in
                    try await withStore(stores[2]) { c in
                        async let x = a.migrate()
                        async let y = b.migrate()
                        async let z = c.migrate()
                        let applied = try await [x, y, z]
                        return (applied, try await a.schemaVersion())
                    }
                }
            }
            #expect(applied.flatMap { $0 } == [1, 2])
            #expect(version == 2)
        }

        @Test("Reservations racing from two replicas never pass the limit, and fill it exactly")
        func reservationRace() async throws {
            let settings = try TestPostgres.settings()
            let a = PostgresStateStore(settings: settings)
            let b = PostgresStateStore(settings: settings)
            // $10 a day, $0.30 a request: 33 fit, with $0.10 left.
            let limit: Int64 = 10_000_000_000
            let amount: Int64 = 300_000_000
            let (outcomes, rows) = try await withStore(a) { a in
                try await withStore(b) { b in
                    try await a.prepare()
                    try await b.prepare()
                    let outcomes = try await withThrowingTaskGroup(of: SharedReservationResult.self) { group in
                        for i in 0..<200 {
                            let store = i.isMultiple(of: 2) ? a : b
                            group.addTask {
                                try await store.reserve(
                                    SharedReservationRequest(
                                        id: "r\(i)", keys: ["global|d:2026-12-03", "model:m|d:2026-12-03"],
                                        limits: [limit, nil], amount: amount))
                            }
                        }
                        var all: [SharedReservationResult] = []
                        for try await outcome in group { all.append(outcome) }
                        return all
                    }
                    let rows = try await a.budgetRows(keys: ["global|d:2026-12-03", "model:m|d:2026-12-03"])
                    return (outcomes, rows)
                }
            }
            let reserved = outcomes.filter { if case .reserved = $0 { true } else { false } }
            #expect(reserved.count == 33)
            #expect(outcomes.count - reserved.count == 167)
            #expect(rows.map(\.reserved) == [33 * amount, 33 * amount])
            #expect(rows.allSatisfy { $0.spent == 0 })
        }

        @Test("A settlement counts once, however often it is replayed; a release gives the money back")
        func settleOnce() async throws {
            let settings = try TestPostgres.settings()
            let store = PostgresStateStore(settings: settings)
            try await withStore(store) { store in
                try await store.prepare()
                let keys = ["global|d:2026-12-03"]
                for id in ["a", "b"] {
                    let result = try await store.reserve(
                        SharedReservationRequest(id: id, keys: keys, limits: [1_000], amount: 400))
                    guard case .reserved = result else { Issue.record("not reserved: \(result)"); return }
                }
                let settleKeys = keys + ["global|total"]
                _ = try await store.settle(id: "a", keys: settleKeys, actual: 250)
                let replay = try await store.settle(id: "a", keys: settleKeys, actual: 250)
                #expect(replay.first { $0.key == "global|d:2026-12-03" }?.spent == 250)
                #expect(replay.first { $0.key == "global|d:2026-12-03" }?.reserved == 400)
                #expect(replay.first { $0.key == "global|total" }?.spent == 250)
                try await store.release(id: "b")
                try await store.release(id: "b")
                let rows = try await store.budgetRows(keys: keys)
                #expect(rows.first?.reserved == 0)
                #expect(rows.first?.spent == 250)
                // A reservation arriving after its release (its requester gave up on it) is void.
                let late = try await store.reserve(SharedReservationRequest(id: "b", keys: keys, limits: [1_000], amount: 400))
                guard case .refused = late else { Issue.record("a released id reserved again"); return }
                #expect(try await store.budgetRows(keys: keys).first?.reserved == 0)
            }
        }

        @Test("Settlements in one batch count each id once and give back what each reservation held")
        func settleBatch() async throws {
            let store = PostgresStateStore(settings: try TestPostgres.settings())
            try await withStore(store) { store in
                try await store.prepare()
                let day = ["global|d:2026-12-03"]
                let model = ["model:m|d:2026-12-03"]
                for (id, keys, amount) in [("a", day + model, Int64(400)), ("b", day, Int64(300))] {
                    let result = try await store.reserve(
                        SharedReservationRequest(id: id, keys: keys, limits: keys.map { _ in 10_000 }, amount: amount))
                    guard case .reserved = result else { Issue.record("not reserved: \(result)"); return }
                }
                // `a` twice in the batch, and a settlement of an id never reserved (fail_open).
                let rows = try await store.settle([
                    SharedSettlement(id: "a", keys: day + model + ["global|total"], actual: 250),
                    SharedSettlement(id: "b", keys: day + ["global|total"], actual: 100),
                    SharedSettlement(id: "a", keys: day + model + ["global|total"], actual: 250),
                    SharedSettlement(id: "local", keys: day, actual: 7),
                ])
                let byKey = Dictionary(uniqueKeysWithValues: rows.map { ($0.key, $0) })
                #expect(byKey["global|d:2026-12-03"]?.spent == 357)
                #expect(byKey["global|d:2026-12-03"]?.reserved == 0)
                #expect(byKey["model:m|d:2026-12-03"]?.spent == 250)
                #expect(byKey["model:m|d:2026-12-03"]?.reserved == 0)
                #expect(byKey["global|total"]?.spent == 350)
                let replay = try await store.settle([SharedSettlement(id: "b", keys: day, actual: 100)])
                #expect(replay.first?.spent == 357)
            }
        }

        @Test("The reservations of a replica that stopped reporting are released after the lease")
        func leaseExpiry() async throws {
            let settings = try TestPostgres.settings()
            let dead = PostgresStateStore(settings: settings)
            let alive = PostgresStateStore(settings: settings)
            let keys = ["global|d:2026-12-03"]
            try await withStore(dead) { dead in
                try await dead.prepare()
                _ = try await dead.heartbeat(lease: .seconds(1))
                _ = try await dead.reserve(SharedReservationRequest(id: "held", keys: keys, limits: [1_000], amount: 600))
            }
            try await withStore(alive) { alive in
                try await alive.prepare()
                // Within the lease, the reservation stays.
                #expect(try await alive.heartbeat(lease: .seconds(60)) == 0)
                #expect(try await alive.budgetRows(keys: keys).first?.reserved == 600)
                try await Task.sleep(for: .milliseconds(1100))
                #expect(try await alive.heartbeat(lease: .seconds(1)) == 1)
                #expect(try await alive.budgetRows(keys: keys).first?.reserved == 0)
            }
        }

        @Test("One replica holds a half-open probe claim at a time; the holder may renew it")
        func probeClaims() async throws {
            let settings = try TestPostgres.settings()
            let a = PostgresStateStore(settings: settings)
            let b = PostgresStateStore(settings: settings)
            try await withStore(a) { a in
                try await withStore(b) { b in
                    try await a.prepare()
                    #expect(try await a.claimProbe("chat/m", for: .milliseconds(300)))
                    #expect(try await b.claimProbe("chat/m", for: .seconds(5)) == false)
                    #expect(try await a.claimProbe("chat/m", for: .milliseconds(300)))
                    try await Task.sleep(for: .milliseconds(350))
                    #expect(try await b.claimProbe("chat/m", for: .seconds(5)))
                    #expect(try await a.claimProbe("chat/m", for: .seconds(5)) == false)
                }
            }
        }

        @Test("A published change reaches the other replica as a notification, with the record")
        func publishNotifies() async throws {
            let settings = try TestPostgres.settings()
            let a = PostgresStateStore(settings: settings)
            let b = PostgresStateStore(settings: settings)
            try await withStore(a) { a in
                try await withStore(b) { b in
                    try await a.prepare()
                    var changes = b.changes().makeAsyncIterator()
                    _ = await changes.next()  // the first wake-up, once listening
                    try await a.publish([SharedHealthRecord(key: "provider:x", payload: #"{"deactivation":"manual"}"#, origin: "")])
                    _ = await changes.next()
                    let records = try await b.healthRecords()
                    #expect(records.map(\.key) == ["provider:x"])
                    #expect(records.first?.origin == a.replicaID)
                }
            }
        }
    }
}
