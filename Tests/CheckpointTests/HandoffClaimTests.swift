import Testing
import TestSupport
@testable import Checkpoint
@testable import Postgres
@testable import WorldCore

/// The claim that arbitrates a handoff, against PostgreSQL: one winner per epoch, and no winner
/// at all when the offer came from a worker whose lease was revoked (a paused or cut-off
/// zombie whose cells already failed over to the claimant or another worker).
@Suite struct HandoffClaimTests {
    @Test func aTargetClaimsAnEntityOnlyWhileTheSourceHoldsItsLease() throws {
        try StoreHarness.withStore { store, _ in
            let leases = LeaseTable(connection: store.connection)
            let source = LeaseToken(worker: "w1", generation: try leases.grant(worker: "w1", endpoint: "tcp://127.0.0.1:1", leaseMs: 60_000))
            store.lease = LeaseToken(worker: "w2", generation: try leases.grant(worker: "w2", endpoint: "tcp://127.0.0.1:2", leaseMs: 60_000))
            try store.write(StoreHarness.batch([StoreHarness.entity(1, version: 4, epoch: 1), StoreHarness.entity(2, version: 4, epoch: 1)]))

            // The source holds its lease: the target wins epoch 2.
            let first = try store.claim(StoreHarness.entity(1, cell: 6, version: 5, epoch: 1), expected: 1, source: source)
            #expect(first == .won)
            #expect(try store.loadEntity(EntityID(1))?.ownerEpoch == 2)

            // The source's cells failed over (its lease row is gone): its late offer takes nothing.
            let failover = try Connection(store.connection.parameters)
            defer { failover.close() }
            #expect(try LeaseTable.revoke(LeaseTable.Lease(worker: "w1", generation: source.generation, endpoint: ""), in: failover))
            let stale = try store.claim(StoreHarness.entity(2, cell: 6, version: 5, epoch: 1), expected: 1, source: source)
            #expect(stale == .sourceFenced)
            let stored = try #require(try store.loadEntity(EntityID(2)))
            #expect(stored.ownerEpoch == 1 && stored.version == 4 && stored.cell == CellID(5))
            // Nothing stays open on the connection after the refused claim.
            #expect(try store.connection.query("SELECT 1").rowCount == 1)
        }
    }

    @Test func aClaimantWithoutItsLeaseFailsWithLeaseLost() throws {
        try StoreHarness.withStore { store, _ in
            let leases = LeaseTable(connection: store.connection)
            let mine = LeaseToken(worker: "w2", generation: try leases.grant(worker: "w2", endpoint: "tcp://127.0.0.1:2", leaseMs: 60_000))
            store.lease = mine
            try store.write(StoreHarness.batch([StoreHarness.entity(1, version: 4, epoch: 1)]))
            _ = try leases.grant(worker: "w2", endpoint: "tcp://127.0.0.1:3", leaseMs: 60_000)  // a newer incarnation
            let error = try #require(throws: PQError.self) { try store.claim(StoreHarness.entity(1, cell: 6, version: 5), expected: 1) }
            #expect(error.isLeaseLost)
            #expect(try store.loadEntity(EntityID(1))?.ownerEpoch == 1)
        }
    }
}
