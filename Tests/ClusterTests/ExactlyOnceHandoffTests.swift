import Foundation
import Testing
import ProcessKit
import TestSupport
@testable import Client
@testable import Postgres
@testable import Wire
@testable import WorldCore
@testable import ZeroMQ

/// Exactly once when an entity is handed off while a durable change to it is being committed.
@Suite struct ExactlyOnceHandoffTests {
    static let grid = WorkerProcessTests.grid

    /// w1 applies a durable action to entity 80 while its checkpoint writer is held up (another
    /// transaction locks the row of entity 81, which that checkpoint writes), so the action's commit
    /// waits. Meanwhile entity 80 walks into w2's cell, and w2 claims it. The action's answer does
    /// not reach the client, which retries it at w2, where the entity is now. It must be answered,
    /// not applied a second time.
    @Test func aDurableChangeCommittedAfterItsEntityWasHandedOffIsNotAppliedAgainAtTheTarget() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let cluster = try ProcessCluster(database: parameters.database!, workers: 2,
                                             settings: ["events.durability.entity_action=durable", "checkpoint.interval_ms=100",
                                                        "checkpoint.max_loss_window_ms=20000"])
            defer { cluster.killAll() }
            let context = try Context()
            let client = try ClusterClient(context: context, coordinator: cluster.coordinatorEndpoint, grid: Self.grid)
            try client.refreshMap()
            let (a, b) = try HandoffTests.border(client.map!)
            let center = HandoffTests.center(a)
            #expect(try client.spawn(Entity(id: EntityID(80), kind: .player, position: center, cell: a)).code == .ok)
            #expect(try client.spawn(Entity(id: EntityID(81), kind: .player, position: center, cell: a)).code == .ok)
            Thread.sleep(forTimeInterval: 0.5)

            // w1's next checkpoint writes entity 81, whose row is locked: it waits, and so does
            // every write queued behind it.
            let blocker = try Connection(parameters)
            _ = try blocker.query("BEGIN")
            _ = try blocker.query("SELECT 1 FROM entity_states WHERE entity_id = 81 FOR UPDATE")
            let w1 = try CellClient(context: context, endpoint: try #require(cluster.endpoint(of: "w1")), name: "client:mover")
            #expect(try w1.call(.moveEntity(.with { $0.entityID = 81; $0.to = .init(Position(x: center.x + 1, y: center.y)); $0.cellID = a.raw }),
                                timeout: .seconds(5)).code == .ok)
            Thread.sleep(forTimeInterval: 0.5)

            let name = "client:inflight"
            let action = Envelope.OneOf_Body.entityAction(.with {
                $0.entityID = 80; $0.action = "loot"; $0.statDeltas = ["gold": 10]; $0.cellID = a.raw
            })
            let actor = try CellClient(context: context, endpoint: try #require(cluster.endpoint(of: "w1")), name: name)
            try actor.resend(action, id: 9101)  // applied at w1; its commit waits behind the checkpoint
            Thread.sleep(forTimeInterval: 0.2)

            var moved: Cellcluster_V1_Reply?
            var waited = 0  // moves answered "retry" while the action's commit was held up
            let until = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < until {
                let reply = try w1.call(.moveEntity(.with { $0.entityID = 80; $0.to = .init(HandoffTests.center(b)); $0.cellID = a.raw }),
                                        timeout: .seconds(5))
                if reply.code == .ok { moved = reply; break }
                guard reply.code == .handoffInProgress else { Issue.record("move: \(reply.code): \(reply.message)"); break }
                waited += 1
                _ = try? blocker.query("ROLLBACK")  // a move that waits for the commit goes once the commit is through
                Thread.sleep(forTimeInterval: 0.05)
            }
            _ = try? blocker.query("ROLLBACK")
            #expect(moved?.redirectWorker == "w2", "\(String(describing: moved))")
            #expect(waited >= 1, "the move did not wait for the action's commit")

            // The client did not hear from w1; it retries where the entity is now.
            let w2 = try CellClient(context: context, endpoint: try #require(cluster.endpoint(of: "w2")), name: name)
            var retried: Cellcluster_V1_Reply?
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline {
                let reply = try w2.call(action, id: 9101, timeout: .seconds(3))
                if reply.code == .ok { retried = reply; break }
                Thread.sleep(forTimeInterval: 0.1)
            }
            #expect(retried?.durable == true, "\(String(describing: retried))")
            let held = try w2.call(.getEntity(.with { $0.entityID = 80 }), timeout: .seconds(3))
            #expect(held.entity.actions == 1 && held.entity.stats["gold"] == 10, "\(held.entity)")
        }
    }
}
