import Foundation
import Testing
import ProcessKit
import Telemetry
import TestSupport
@testable import Client
@testable import Postgres
@testable import Wire
@testable import WorldCore
@testable import ZeroMQ

/// A durable change whose commit failed stays applied in memory, and a later write of its entity
/// saves it. Its request id must ride with that write: otherwise storage holds the change without
/// its id, and a retry at a worker that took the entity from storage applies it a second time.
@Suite struct FailedCommitRequestTests {
    @Test func theIdOfAChangeWhoseCommitFailedIsStoredWithTheCheckpointThatSavesItAndAnswersARetryElsewhere() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let cluster = try ProcessCluster(database: parameters.database!, workers: 2, settings: [
                "events.durability.entity_action=durable", "checkpoint.interval_ms=200",
            ])
            defer { cluster.killAll() }
            let db = try Connection(parameters)
            let context = try Context()
            let client = try ClusterClient(context: context, coordinator: cluster.coordinatorEndpoint, grid: ExactlyOnceTests.grid)
            try client.refreshMap()
            let (a, _) = try HandoffTests.border(client.map!)
            #expect(try client.spawn(Entity(id: EntityID(51), kind: .player, position: HandoffTests.center(a), cell: a)).code == .ok)
            let owner = try #require(try client.map?.partitionMap(grid: ExactlyOnceTests.grid).owner(of: a))
            let name = "client:failed-commit"
            let worker = try CellClient(context: context, endpoint: try #require(cluster.endpoint(of: owner)), name: name)
            let action = Envelope.OneOf_Body.entityAction(.with {
                $0.entityID = 51; $0.action = "loot"; $0.statDeltas = ["gold": 10]; $0.cellID = a.raw
            })
            func stored() throws -> (actions: Int64, gold: String?) {
                let row = try db.query("SELECT actions, stats->>'gold' FROM entity_states WHERE entity_id = 51")
                return (try row.int64(0, 0), row.string(0, 1))
            }

            // The durable action is applied in memory, and its commit fails.
            try FailingCommits.refuse(requestID: 4242, db)
            let failed = try worker.call(action, id: 4242, timeout: .seconds(10))
            #expect(failed.code == .storageUnavailable, "\(failed.code): \(failed.message)")
            #expect(try stored().actions == 0)
            let metricsURL = try #require(cluster.worker(owner)?.readyField("metrics"))
            func unstoredIDs() -> Double? {
                (try? HTTPGet.get(metricsURL, "/metrics")).flatMap { MetricsClusterTests.value($0.body, "cellcluster_unstored_request_ids") }
            }
            #expect(HandoffTests.eventually(timeout: .seconds(5)) { unstoredIDs() == 1 }, "\(String(describing: unstoredIDs()))")

            // The database works again: a periodic checkpoint saves the entity, and the action's id with it.
            try FailingCommits.heal(db)
            let saved = HandoffTests.eventually(timeout: .seconds(20)) { (try? stored().actions) == 1 }
            #expect(saved, "\(cluster.worker(owner)?.stderr.suffix(2000) ?? "")")
            let ids = try db.query("SELECT count(*) FROM applied_requests WHERE request_id = 4242 AND entity_id = 51").int64(0, 0)
            #expect(ids == 1, "the checkpoint that saved the action stored no id for it")
            #expect(HandoffTests.eventually(timeout: .seconds(5)) { unstoredIDs() == 0 }, "\(String(describing: unstoredIDs()))")

            // Its worker dies; the client retries at the worker that took the cell over from storage.
            let dead = try #require(cluster.worker(owner))
            dead.signal(SIGKILL)
            #expect(dead.waitForExit(timeout: .seconds(10)) != nil)
            let reply = try #require(try ExactlyOnceTests.retry(action, id: 4242, name: name, cell: a, cluster: cluster, context: context))
            #expect(reply.code == .ok && reply.durable, "\(reply.code): \(reply.message)")
            Thread.sleep(forTimeInterval: 0.5)  // a second application would be committed by now
            let after = try stored()
            #expect(after.actions == 1 && after.gold == "10", "applied again: \(after.actions) actions, gold \(after.gold ?? "-")")
        }
    }

    /// A durable change whose row storage fenced (a newer owner epoch is stored: another worker's
    /// claim, or any value a row may hold) is not stored, and neither is its id: its sender must
    /// not be told it is durable.
    @Test func aDurableChangeWhoseRowStorageFencedIsNotAnsweredDurable() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let worker = try WorkerProcess(database: parameters.database!, settings: ["events.durability.entity_action=durable"])
            defer { worker.process.killHard() }
            let db = try Connection(parameters)
            let client = try CellClient(context: try Context(), endpoint: worker.endpoint, name: "client:fenced")
            try client.spawn(WorkerProcessTests.player(1, x: 100, y: 100))
            #expect(try db.query("UPDATE entity_states SET owner_epoch = owner_epoch + 1000 WHERE entity_id = 1").affectedRows == 1)
            let action = Envelope.OneOf_Body.entityAction(.with { $0.entityID = 1; $0.action = "loot"; $0.statDeltas = ["gold": 10] })
            let reply = try client.call(action, id: 5151, timeout: .seconds(10))
            #expect(!(reply.code == .ok && reply.durable), "answered durable: \(reply.code) \(reply.message)")
            #expect(try db.query("SELECT actions FROM entity_states WHERE entity_id = 1").int64(0, 0) == 0)
            #expect(try db.query("SELECT count(*) FROM applied_requests WHERE request_id = 5151").int64(0, 0) == 0)
        }
    }
}
