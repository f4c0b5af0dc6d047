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

    /// Claims queued together run in one transaction (one commit); each gets its own outcome, and
    /// one that fails on its own does not take the others with it.
    @Test func claimsMadeTogetherCommitOnceAndEachGetsItsOwnOutcome() throws {
        try StoreHarness.withStore { store, _ in
            let leases = LeaseTable(connection: store.connection)
            let live = LeaseToken(worker: "w1", generation: try leases.grant(worker: "w1", endpoint: "tcp://127.0.0.1:1", leaseMs: 60_000))
            let gone = LeaseToken(worker: "w3", generation: try leases.grant(worker: "w3", endpoint: "tcp://127.0.0.1:3", leaseMs: 60_000))
            store.lease = LeaseToken(worker: "w2", generation: try leases.grant(worker: "w2", endpoint: "tcp://127.0.0.1:2", leaseMs: 60_000))
            try store.write(StoreHarness.batch((1...5).map { StoreHarness.entity($0, version: 4, epoch: 1) }))
            let failover = try Connection(store.connection.parameters)
            defer { failover.close() }
            #expect(try LeaseTable.revoke(LeaseTable.Lease(worker: "w3", generation: gone.generation, endpoint: ""), in: failover))

            let moved = StoreHarness.entity(1, cell: 6, version: 5, epoch: 1)
            let answers = store.claimAll([
                EntityClaim(StoreHarness.entity(3, cell: 6, version: 5, epoch: 1), expected: 1, source: live),
                EntityClaim(moved, expected: 1, source: live),
                EntityClaim(moved, expected: 1, source: live),  // a resent offer, behind the first
                EntityClaim(StoreHarness.entity(2, cell: 6, version: 5), expected: 7),  // storage holds epoch 1
                EntityClaim(StoreHarness.entity(4, cell: 6, version: 5), expected: 1, source: gone),
                EntityClaim(StoreHarness.entity(5, cell: 6, version: 5), expected: Counter.max),  // no next epoch
            ])
            #expect(answers.map { try? $0.get().outcome } == [.won, .won, .alreadyClaimed, .lost(epoch: 1), .sourceFenced, nil])
            #expect(try store.loadEntity(EntityID(1)).map { [$0.ownerEpoch, UInt64($0.cell.raw)] } == [2, 6])
            #expect(try store.loadEntity(EntityID(2))?.ownerEpoch == 1)
            #expect(try store.loadEntity(EntityID(4)).map { [$0.ownerEpoch, UInt64($0.cell.raw)] } == [1, 5])
            #expect(try store.loadEntity(EntityID(5))?.ownerEpoch == 1)
            // Both winners were written by one transaction.
            let writers = try store.connection.query("SELECT DISTINCT xmin::text FROM entity_states WHERE entity_id IN (1, 3)")
            #expect(writers.rowCount == 1)

            // A claim whose row PostgreSQL refuses (jsonb takes no \u0000) fails the transaction;
            // the group is made again claim by claim, and the other claim still wins.
            var refused = StoreHarness.entity(5, cell: 6, version: 5, epoch: 1)
            refused.stats = ["\u{0}": 1]
            let again = store.claimAll([EntityClaim(refused, expected: 1), EntityClaim(StoreHarness.entity(2, cell: 7, version: 6), expected: 1)])
            #expect((try? again[0].get()) == nil)
            #expect((try? again[1].get().outcome) == .won)
            #expect(try store.loadEntity(EntityID(5))?.ownerEpoch == 1)
            #expect(try store.loadEntity(EntityID(2)).map { [$0.ownerEpoch, UInt64($0.cell.raw)] } == [2, 7])
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
