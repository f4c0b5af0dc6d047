import Foundation
import Testing
import TestSupport
@testable import Checkpoint
@testable import Cluster
@testable import Postgres

/// The coordinator revokes a lease in the transaction of the map that fails the worker over,
/// waiting for the holder's write in flight. A holder paused inside that write must not stall
/// the coordinator: the wait is bounded, and the failover is tried again.
@Suite struct RevocationTests {
    @Test func aRevocationWaitsForAWriteInFlightOnlySoLong() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let coordinator = try Connection(parameters)
            _ = try Migrator().migrate(coordinator)
            let leases = LeaseTable(connection: coordinator)
            let generation = try leases.grant(worker: "w1", endpoint: "tcp://127.0.0.1:1", leaseMs: 1)
            Thread.sleep(forTimeInterval: 0.05)
            let lease = try #require(try leases.expired().first)
            #expect(lease.generation == generation)

            // The holder's write, paused inside its transaction: it holds the lease row as every
            // write of a worker does.
            let holder = try Connection(parameters)
            _ = try holder.query("BEGIN")
            _ = try holder.query("SELECT 1 FROM worker_leases WHERE worker_id = 'w1' FOR KEY SHARE")
            let start = ContinuousClock.now
            let error = try #require(throws: PQError.self) {
                try coordinator.transaction { conn in try CoordinatorNode.revoke(lease, vanishedAt: nil, in: conn) }
            }
            let waited = ContinuousClock.now - start
            #expect(error.isLockNotAvailable, "\(error)")
            #expect(waited < .seconds(2), "waited \(waited)")
            #expect(try leases.all().count == 1)  // nothing revoked

            // Once the write ends, the next attempt revokes it.
            _ = try holder.query("COMMIT")
            let outcome = try coordinator.transaction { conn in try CoordinatorNode.revoke(lease, vanishedAt: nil, in: conn) }
            #expect(outcome == .revoked)
            #expect(try leases.all().isEmpty)
        }
    }
}
