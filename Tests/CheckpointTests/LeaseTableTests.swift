import Foundation
import Logging
import Synchronization
import Testing
import TestSupport
@testable import Checkpoint
@testable import Postgres

/// Leases against PostgreSQL. The coordinator's side: an expired lease is revoked, unless its
/// holder's renewal commits while the revocation waits for the row (a slow database, not a dead
/// worker): then the worker keeps its lease and nothing fails over. The worker's side: how slow
/// its renewals are is measured, since `leases.lease_ms` must stay well above the slowest.
@Suite struct LeaseTableTests {
    @Test func anExpiredLeaseIsRevokedOnce() throws {
        try StoreHarness.withStore { store, _ in
            let leases = LeaseTable(connection: store.connection)
            let generation = try leases.grant(worker: "w1", endpoint: "tcp://127.0.0.1:1", leaseMs: 1)
            Thread.sleep(forTimeInterval: 0.02)
            let lease = try #require(try leases.expired().first)
            #expect(lease.generation == generation)
            #expect(try LeaseTable.revokeExpired(lease, in: store.connection) == .revoked)
            #expect(try LeaseTable.revokeExpired(lease, in: store.connection) == .gone)
            #expect(try leases.all().isEmpty)
        }
    }

    /// A lease that has not run out is revoked early only while its keeper has no session and
    /// it was not renewed since its expiry was read.
    @Test func aLeaseEndsEarlyOnlyWithoutTheKeepersSessionAndWithoutARenewal() throws {
        try StoreHarness.withStore { store, _ in
            let leases = LeaseTable(connection: store.connection)
            _ = try leases.grant(worker: "w7", endpoint: "tcp://127.0.0.1:1", leaseMs: 60_000)
            var keeperParameters = store.connection.parameters
            keeperParameters.applicationName = LeaseTable.keeperApplication("w7")
            let keeper = try Connection(keeperParameters)
            #expect(try leases.withoutKeeper(["w7"]).isEmpty)  // its keeper is connected
            keeper.close()
            let settled = try StoreHarness.eventually { try leases.withoutKeeper(["w7"]).count == 1 }
            #expect(settled)
            let (lease, expiresAt) = try leases.withoutKeeper(["w7"])[0]

            // Renewed since (by a keeper that reconnected and left again): not revoked.
            try store.connection.query("UPDATE worker_leases SET expires_at = expires_at + interval '1 second' WHERE worker_id = 'w7'")
            #expect(try LeaseTable.revokeVanished(lease, expiresAt: expiresAt, in: store.connection) == .renewed)
            // Its keeper is back: not revoked either.
            let (_, renewedAt) = try leases.withoutKeeper(["w7"])[0]
            let back = try Connection(keeperParameters)
            #expect(try LeaseTable.revokeVanished(lease, expiresAt: renewedAt, in: store.connection) == .renewed)
            back.close()
            let gone = try StoreHarness.eventually { try leases.withoutKeeper(["w7"]).count == 1 }
            #expect(gone)
            #expect(try LeaseTable.revokeVanished(lease, expiresAt: renewedAt, in: store.connection) == .revoked)
            #expect(try LeaseTable.revokeVanished(lease, expiresAt: renewedAt, in: store.connection) == .gone)
            #expect(LeaseTable.keeperApplication(String(repeating: "x", count: 100)).utf8.count == 63)
        }
    }

    @Test func aRenewalThatCommitsWhileTheRevocationWaitsKeepsTheLease() throws {
        try StoreHarness.withStore { store, _ in
            let leases = LeaseTable(connection: store.connection)
            _ = try leases.grant(worker: "w1", endpoint: "tcp://127.0.0.1:1", leaseMs: 1)
            Thread.sleep(forTimeInterval: 0.02)
            let lease = try #require(try leases.expired().first)

            // The worker's renewal holds the row, uncommitted (its commit is slow).
            let worker = try Connection(store.connection.parameters)
            defer { worker.close() }
            try worker.query("BEGIN")
            let renewed = try worker.query(
                "UPDATE worker_leases SET expires_at = now() + interval '60 seconds' WHERE worker_id = 'w1' AND generation = $1::int8",
                [.int64(lease.generation)])
            #expect(renewed.affectedRows == 1)

            // The coordinator's revocation waits for that row on its own connection.
            let parameters = store.connection.parameters
            let outcome = Mutex<Result<LeaseTable.Revocation, any Error>?>(nil)
            let done = DispatchSemaphore(value: 0)
            Thread {
                let result = Result { () throws -> LeaseTable.Revocation in
                    let coordinator = try Connection(parameters)
                    defer { coordinator.close() }
                    return try coordinator.transaction { conn in try LeaseTable.revokeExpired(lease, in: conn) }
                }
                outcome.withLock { $0 = result }
                done.signal()
            }.start()
            #expect(done.wait(timeout: .now() + 0.3) == .timedOut, "the revocation did not wait for the renewal's row lock")
            try worker.query("COMMIT")
            #expect(done.wait(timeout: .now() + 10) == .success)
            let result = try #require(outcome.withLock { $0 })
            #expect(try result.get() == .renewed)
            #expect(try leases.all().map(\.worker) == ["w1"])
        }
    }

    @Test func aSlowRenewalIsMeasuredAndWarnedAbout() throws {
        try StoreHarness.withStore { store, _ in
            let leases = LeaseTable(connection: store.connection)
            let generation = try leases.grant(worker: "w1", endpoint: "tcp://127.0.0.1:1", leaseMs: 3000)
            // Another session holds the lease row: the next renewal waits for it.
            let holder = try Connection(store.connection.parameters)
            defer { holder.close() }
            try holder.query("BEGIN")
            try holder.query("SELECT 1 FROM worker_leases WHERE worker_id = 'w1' FOR UPDATE")

            let lines = CapturedLines()
            let keeper = LeaseKeeper(token: LeaseToken(worker: "w1", generation: generation), leaseMs: 3000,
                                     renewEveryMs: 100, parameters: store.connection.parameters,
                                     logger: Logger(label: "test") { _ in CapturingLogHandler(lines) })
            defer { keeper.stop() }
            Thread.sleep(forTimeInterval: 1.2)  // a third of the lease is 1 s
            try holder.query("COMMIT")
            let deadline = ContinuousClock.now + .seconds(5)
            while ContinuousClock.now < deadline, !lines.all.contains(where: { $0.message.hasPrefix("lease renewal took") }) {
                Thread.sleep(forTimeInterval: 0.02)
            }
            let warning = try #require(lines.all.first { $0.message.hasPrefix("lease renewal took") }, "no warning about the slow renewal")
            #expect(warning.message.contains("leases.lease_ms (3000)"))
            let slowest = keeper.takeSlowestRenewal()
            #expect(slowest >= .milliseconds(1100) && slowest < .seconds(5), "\(slowest)")
            Thread.sleep(forTimeInterval: 0.3)  // quick renewals since
            #expect(keeper.takeSlowestRenewal() < .milliseconds(1000), "taken: the next figure starts again")
            #expect(keeper.mayServe(now: .now))
        }
    }

    /// The request path's lock-free answer agrees with the standing: not before the first
    /// renewal, yes once one lands, no once revoked.
    @Test func theLockFreeAnswerFollowsTheStanding() throws {
        try StoreHarness.withStore { store, _ in
            let leases = LeaseTable(connection: store.connection)
            let generation = try leases.grant(worker: "w1", endpoint: "tcp://127.0.0.1:1", leaseMs: 3000)
            let keeper = LeaseKeeper(token: LeaseToken(worker: "w1", generation: generation),
                                     leaseMs: 3000, renewEveryMs: 100, parameters: store.connection.parameters,
                                     logger: Logger(label: "test"))
            defer { keeper.stop() }
            #expect(!keeper.mayServeNow() || keeper.mayServe(now: .now), "serving before any renewal")
            let deadline = ContinuousClock.now + .seconds(5)
            while ContinuousClock.now < deadline, !keeper.mayServeNow() { Thread.sleep(forTimeInterval: 0.01) }
            #expect(keeper.mayServeNow() && keeper.mayServe(now: .now), "a renewal landed: serving")
            keeper.markRevoked()
            #expect(!keeper.mayServeNow() && !keeper.mayServe(now: .now))
            Thread.sleep(forTimeInterval: 0.3)  // no renewal brings it back
            #expect(!keeper.mayServeNow())
        }
    }
}
