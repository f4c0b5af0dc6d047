import Testing
import TestSupport
@testable import Checkpoint
@testable import Postgres
@testable import WorldCore

/// The id of a durable change whose commit failed rides with the next write of its entity,
/// here a release of its cell: the receiver of the cell answers a retry from it.
@Suite struct CarriedRequestTests {
    @Test func aReleaseStoresTheIdOfAChangeInACellItGivesAwayWhoseCommitFailed() throws {
        try StoreHarness.withStore { store, parameters in
            let writer = CheckpointWriter(parameters: parameters, chunkSize: 10, logger: StoreHarness.logger)
            defer { writer.stop() }
            let now = ContinuousClock.now
            var checkpointer = CheckpointWriterTests.checkpointer(writer, interval: .seconds(3600), now: now)
            var shard = Shard(settings: ShardSettings(grid: StoreHarness.grid, activeRadius: 2))
            _ = try shard.apply(.entitySpawn(CheckpointWriterTests.player(1, at: (5, 5))), to: ReleaseTests.kept, now: now)
            for case let .load(cell) in shard.takeActions() { shard.cellLoaded(try store.loadCell(cell), now: now) }
            _ = try shard.apply(.entitySpawn(ReleaseTests.npc(2, in: ReleaseTests.given)), to: ReleaseTests.given, now: now)
            let taken = shard.takeCheckpoint(now: now)
            let first = try #require(taken)
            shard.checkpointSucceeded(first, report: try store.write(first), duration: .zero, now: now)

            func outcome(_ ticket: UInt64) -> Checkpointer.DurableOutcome? {
                var found: Checkpointer.DurableOutcome?
                _ = StoreHarness.eventually {
                    found = checkpointer.pump(&shard, now: now).first { $0.ticket == ticket }
                    return found != nil
                }
                return found
            }

            // A durable action on 2; its commit fails (a trigger refuses its request id).
            try FailingCommits.refuse(requestID: 77, store.connection)
            let applied = try shard.apply(.entityAction(EntityID(2), action: "loot", deltas: ["gold": 5]), to: ReleaseTests.given, now: now)
            guard case .applied(let version) = applied else {
                Issue.record("not applied: \(applied)")
                return
            }
            let held = try #require(shard.entity(EntityID(2)))
            let request = AppliedRequest(sender: Array("client".utf8), requestID: 77, entity: EntityID(2), cell: ReleaseTests.given,
                                         condition: .entity(version: version, ownerEpoch: held.ownerEpoch), reply: [8, 1])
            checkpointer.submitDurable(&shard, entities: [EntityID(2)], cells: [ReleaseTests.given], requests: [request], ticket: 1, now: now)
            let failed = try #require(outcome(1))
            if case .success = failed.result { Issue.record("the commit did not fail") }
            #expect(checkpointer.unstored.holds(EntityID(2)))
            #expect(try store.connection.query("SELECT count(*) FROM applied_requests").int64(0, 0) == 0)

            // The cell is given away: the release writes 2 and stores the action's id with it.
            try FailingCommits.heal(store.connection)
            let release = shard.takeRelease([CellTransfer(cell: ReleaseTests.given, to: "w2")], now: now)
            checkpointer.submitRelease(release, ticket: 2, now: now)
            let released = try #require(outcome(2))
            if case .failure(let error) = released.result { Issue.record("the release failed: \(error)") }
            let stored = try store.connection.query("SELECT entity_id, reply FROM applied_requests WHERE request_id = 77")
            #expect(stored.rowCount == 1)
            #expect(try stored.int64(0, 0) == 2)
            #expect(try store.connection.query("SELECT (stats->>'gold')::float8 FROM entity_states WHERE entity_id = 2").string(0, 0) == "5")
            #expect(!checkpointer.unstored.holds(EntityID(2)) && checkpointer.unstored.isEmpty)
        }
    }
}
