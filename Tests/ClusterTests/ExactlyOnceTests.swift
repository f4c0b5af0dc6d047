import Foundation
import Testing
import ProcessKit
import TestSupport
@testable import Client
@testable import Postgres
@testable import Wire
@testable import WorldCore
@testable import ZeroMQ

/// Exactly once across crashes and workers: the request id of a durable change is stored with
/// the change, and storage decides whether an entity id exists.
@Suite struct ExactlyOnceTests {
    static let grid = WorkerProcessTests.grid

    static func actions(_ parameters: ConnectionParameters, _ id: UInt64) throws -> (actions: Int64, gold: Double?)? {
        let r = try Connection(parameters).query(
            "SELECT actions, (stats->>'gold')::float8 FROM entity_states WHERE entity_id = $1", [.int64(Int64(id))])
        guard r.rowCount == 1 else { return nil }
        return (try r.int64(0, 0), r.string(0, 1).flatMap(Double.init))
    }

    /// Sends `body` with request id `id` under `name` until a worker answers it (OK or a final error).
    static func retry(_ body: Envelope.OneOf_Body, id: UInt64, name: String, cell: CellID, cluster: ProcessCluster,
                      context: Context, within: Duration = .seconds(20)) throws -> Cellcluster_V1_Reply? {
        let end = ContinuousClock.now + within
        while ContinuousClock.now < end {
            let client = try ClusterClient(context: context, coordinator: cluster.coordinatorEndpoint, grid: grid)
            try? client.refreshMap(timeout: .seconds(2))
            guard let owner = try? client.map.map({ try $0.partitionMap(grid: grid).owner(of: cell) }),
                let endpoint = client.map?.endpoints[owner], !endpoint.isEmpty
            else { Thread.sleep(forTimeInterval: 0.1); continue }
            let worker = try CellClient(context: context, endpoint: endpoint, name: name)
            if let reply = try? worker.call(body, id: id, timeout: .seconds(1)),
               ![.wrongWorker, .handoffInProgress, .shuttingDown, .storageUnavailable].contains(reply.code) {
                return reply
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return nil
    }

    @Test func aDurableActionCommittedByAWorkerKilledBeforeItAnsweredIsStoredOnceWhenRetriedElsewhere() throws {
        try TestDatabase.withFreshDatabase { parameters in
            // w1 dies (SIGKILL) right after the commit of a durable change, before it answers.
            let cluster = try ProcessCluster(database: parameters.database!, workers: 2,
                                             settings: ["events.durability.entity_action=durable"],
                                             workerArguments: ["w1": ["--fault", "durable.after-commit"]])
            defer { cluster.killAll() }
            let context = try Context()
            let client = try ClusterClient(context: context, coordinator: cluster.coordinatorEndpoint, grid: Self.grid)
            try client.refreshMap()
            let (a, _) = try HandoffTests.border(client.map!)
            #expect(try client.spawn(Entity(id: EntityID(31), kind: .player, position: HandoffTests.center(a), cell: a)).code == .ok)

            let name = "client:exactly-once"
            let action = Envelope.OneOf_Body.entityAction(.with {
                $0.entityID = 31; $0.action = "loot"; $0.statDeltas = ["gold": 10]; $0.cellID = a.raw
            })
            let w1 = try CellClient(context: context, endpoint: try #require(cluster.endpoint(of: "w1")), name: name)
            #expect(throws: ClientError.self) { try w1.call(action, id: 9001, timeout: .seconds(3)) }  // no answer: it died
            let dead = try #require(cluster.worker("w1"))
            #expect(dead.waitForExit(timeout: .seconds(10)) != nil, "the fault did not fire: \(dead.stderr.suffix(1500))")
            #expect(try Self.actions(parameters, 31)?.actions == 1)  // it did commit

            // The client retries the same request (same sender, same id) at whoever owns the cell
            // now: w2 after the failover. It is answered, not applied again.
            let reply = try #require(try Self.retry(action, id: 9001, name: name, cell: a, cluster: cluster, context: context))
            #expect(reply.code == .ok, "\(reply.code): \(reply.message)")
            #expect(reply.durable)
            let stored = try #require(try Self.actions(parameters, 31))
            #expect(stored.actions == 1 && stored.gold == 10, "stored \(stored)")
            // A new request is applied: the entity goes on from the stored state.
            let next = try Self.retry(action, id: 9002, name: name, cell: a, cluster: cluster, context: context)
            #expect(next?.code == .ok)
            #expect(try Self.actions(parameters, 31)?.actions == 2)
        }
    }

    /// The ids of durable changes are kept for the retention window, not only among the recent
    /// answers: here w2 keeps 8 recent answers, and 40 moves go through it before each retry.
    /// A stored id it took over from w1 and one of its own are both answered, not applied again.
    /// (In a 10-minute soak a takeover of the whole world loaded more stored ids than the recent
    /// answers hold, and an action was applied twice.) w2 acts on one storage answer a loop turn
    /// (`--storage-turn-ms 0`), so the loads of its takeover come in over several turns, with
    /// requests served between them.
    @Test func durableRequestIdsOutliveTheRecentAnswersAtTheWorkerThatTookThemOver() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let cluster = try ProcessCluster(database: parameters.database!, workers: 2,
                                             settings: ["events.durability.entity_action=durable"],
                                             workerArguments: ["w1": ["--fault", "durable.after-commit"],
                                                               "w2": ["--recent-replies", "8", "--storage-turn-ms", "0"]])
            defer { cluster.killAll() }
            let context = try Context()
            let client = try ClusterClient(context: context, coordinator: cluster.coordinatorEndpoint, grid: Self.grid)
            try client.refreshMap()
            let (a, b) = try HandoffTests.border(client.map!)
            #expect(try client.spawn(Entity(id: EntityID(41), kind: .player, position: HandoffTests.center(a), cell: a)).code == .ok)
            #expect(try client.spawn(Entity(id: EntityID(42), kind: .player, position: HandoffTests.center(b), cell: b)).code == .ok)
            let name = "client:outlive"
            func action(_ id: UInt64, _ cell: CellID) -> Envelope.OneOf_Body {
                .entityAction(.with { $0.entityID = id; $0.action = "loot"; $0.statDeltas = ["gold": 1]; $0.cellID = cell.raw })
            }
            let w2 = try CellClient(context: context, endpoint: try #require(cluster.endpoint(of: "w2")), name: name)
            func moves(_ count: Int) throws {
                for i in 0..<count {
                    let to = Position(x: HandoffTests.center(b).x + Double(i % 7) - 3, y: HandoffTests.center(b).y)
                    #expect(try w2.call(.moveEntity(.with { $0.entityID = 42; $0.to = .init(to); $0.cellID = b.raw }), timeout: .seconds(5)).code == .ok)
                }
            }

            // w2's own durable action, answered; then more answers than its recent ones hold.
            #expect(try w2.call(action(42, b), id: 7001, timeout: .seconds(5)).code == .ok)
            try moves(40)
            let own = try w2.call(action(42, b), id: 7001, timeout: .seconds(5))
            #expect(own.code == .ok && own.durable, "\(own.code): \(own.message)")
            #expect(try Self.actions(parameters, 42)?.actions == 1)

            // w1 commits an action and dies before it answers; w2 takes its cells over.
            let w1 = try CellClient(context: context, endpoint: try #require(cluster.endpoint(of: "w1")), name: name)
            #expect(throws: ClientError.self) { try w1.call(action(41, a), id: 7002, timeout: .seconds(3)) }
            let dead = try #require(cluster.worker("w1"))
            #expect(dead.waitForExit(timeout: .seconds(10)) != nil, "the fault did not fire: \(dead.stderr.suffix(1500))")
            #expect(try Self.actions(parameters, 41)?.actions == 1)
            // Once w2 serves a, the stored id is w2's; more answers go through w2 before the retry.
            #expect(HandoffTests.eventually(timeout: .seconds(20)) {
                try w2.call(.getEntity(.with { $0.entityID = 41 }), timeout: .seconds(1)).code == .ok
            })
            try moves(40)
            let reply = try #require(try Self.retry(action(41, a), id: 7002, name: name, cell: a, cluster: cluster, context: context))
            #expect(reply.code == .ok && reply.durable, "\(reply.code): \(reply.message)")
            #expect(try Self.actions(parameters, 41)?.actions == 1)
            #expect(try Self.actions(parameters, 42)?.actions == 1)
        }
    }

    @Test func retriesOfADurableChangeWhoseCommitIsSlowWaitForThatCommit() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let cluster = try ProcessCluster(database: parameters.database!, workers: 1,
                                             settings: ["events.durability.entity_action=durable",
                                                        // no periodic checkpoint while the commit waits
                                                        "checkpoint.interval_ms=4000"])
            defer { cluster.killAll() }
            let context = try Context()
            let client = try ClusterClient(context: context, coordinator: cluster.coordinatorEndpoint, grid: Self.grid)
            try client.refreshMap()
            let cell = try #require(Self.grid.cell(column: 2, row: 2))
            #expect(try client.spawn(Entity(id: EntityID(60), kind: .player, position: HandoffTests.center(cell), cell: cell)).code == .ok)
            /// Transactions the worker committed, once nothing is left to write.
            func settledWrites() throws -> UInt64 {
                for _ in 0..<100 {
                    let before = try client.workerStatuses()[0].monitor
                    Thread.sleep(forTimeInterval: 0.3)
                    let now = try client.workerStatuses()[0].monitor
                    if now.oldestUnsavedAgeMs == 0 && before.oldestUnsavedAgeMs == 0 && now.dbWrites == before.dbWrites { return now.dbWrites }
                }
                throw WorkerProcessError(message: "the worker kept writing")
            }
            let worker = try CellClient(context: context, endpoint: try #require(cluster.endpoint(of: "w1")), name: "client:impatient")
            let action = Envelope.OneOf_Body.entityAction(.with {
                $0.entityID = 60; $0.action = "loot"; $0.statDeltas = ["gold": 5]; $0.cellID = cell.raw
            })
            // What one action costs when nothing is in the way (its commit, then the checkpoint
            // of what else it touched).
            let quiet = try settledWrites()
            #expect(try worker.call(action, id: 4241, timeout: .seconds(5)).code == .ok)
            let writes = try settledWrites()

            // The entity's row is locked elsewhere: the action's commit waits. The client retries
            // it (same sender, same id) four times meanwhile.
            let blocker = try Connection(parameters)
            _ = try blocker.query("BEGIN")
            _ = try blocker.query("SELECT 1 FROM entity_states WHERE entity_id = 60 FOR UPDATE")
            for _ in 0..<5 {
                try worker.resend(action, id: 4242)
                Thread.sleep(forTimeInterval: 0.2)
            }
            _ = try blocker.query("COMMIT")

            var replies: [Cellcluster_V1_Reply] = []
            let deadline = ContinuousClock.now + .seconds(10)
            while replies.count < 5, ContinuousClock.now < deadline {
                if let envelope = try worker.receive(until: .now + .milliseconds(100)), case .reply(let r)? = envelope.body { replies.append(r) }
            }
            #expect(replies.count == 5)
            #expect(replies.allSatisfy { $0.code == .ok && $0.durable }, "\(replies.map { "\($0.code): \($0.message)" })")
            #expect(try Self.actions(parameters, 60)?.actions == 2)
            // The action and its four retries cost what one action alone did: the retries queued
            // no write of their own (before, they shared a second commit).
            let after = try settledWrites()
            #expect(after - writes == writes - quiet, "\(after - writes) transactions, against \(writes - quiet) alone")
        }
    }

    @Test func aSpawnOfAnIdThatExistsAnywhereIsRefusedAndARetriedSpawnIsAnsweredFromStorage() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let cluster = try ProcessCluster(database: parameters.database!, workers: 2, settings: [])
            defer { cluster.killAll() }
            let context = try Context()
            let client = try ClusterClient(context: context, coordinator: cluster.coordinatorEndpoint, grid: Self.grid)
            try client.refreshMap()
            let (a, b) = try HandoffTests.border(client.map!)
            let w1 = try CellClient(context: context, endpoint: try #require(cluster.endpoint(of: "w1")), name: "client:spawner")
            let w2 = try CellClient(context: context, endpoint: try #require(cluster.endpoint(of: "w2")), name: "client:spawner")
            func spawn(_ id: UInt64, in cell: CellID, kind: Cellcluster_V1_EntityKind = .player) -> Envelope.OneOf_Body {
                .spawnEntity(.with { $0.entity = .with { $0.entityID = id; $0.kind = kind; $0.position = .init(HandoffTests.center(cell)) } })
            }
            #expect(try w1.call(spawn(40, in: a), id: 1, timeout: .seconds(5)).code == .ok)
            // The same id again: at the worker that holds it, and at the other one (storage decides there).
            let again = try w1.call(spawn(40, in: a), id: 2, timeout: .seconds(5))
            #expect(again.code == .alreadyExists, "\(again.message)")
            let elsewhere = try w2.call(spawn(40, in: b), id: 3, timeout: .seconds(5))
            #expect(elsewhere.code == .alreadyExists, "\(elsewhere.message)")
            // An NPC spawned into an inactive cell is stored at once: its id exists too.
            #expect(try w2.call(spawn(41, in: b, kind: .npc), id: 4, timeout: .seconds(5)).code == .ok)
            #expect(try w1.call(spawn(41, in: a, kind: .npc), id: 5, timeout: .seconds(5)).code == .alreadyExists)

            // Races: each id spawned at both workers at once, by two clients; exactly one spawn of each wins.
            let racer1 = try CellClient(context: context, endpoint: try #require(cluster.endpoint(of: "w1")), name: "client:racer-1")
            let racer2 = try CellClient(context: context, endpoint: try #require(cluster.endpoint(of: "w2")), name: "client:racer-2")
            for id in UInt64(100)..<UInt64(140) {
                _ = try racer1.send(spawn(id, in: a))
                _ = try racer2.send(spawn(id, in: b))
            }
            var codes: [Cellcluster_V1_ErrorCode] = []
            let deadline = ContinuousClock.now + .seconds(20)
            while codes.count < 80, ContinuousClock.now < deadline {
                if let r = try racer1.receive(until: .now + .milliseconds(50)) { codes.append(r.reply.code) }
                if let r = try racer2.receive(until: .now + .milliseconds(50)) { codes.append(r.reply.code) }
            }
            #expect(codes.filter { $0 == .ok }.count == 40, "\(codes)")
            #expect(codes.filter { $0 == .alreadyExists }.count == 40)
            let statuses = try client.workerStatuses()
            // In memory: the 40 winners and player 40 once each (NPC 41 is in memory only if its cell is loaded).
            #expect((41...42).contains(statuses.map(\.entities).reduce(0, +)), "\(statuses.map { "\($0.workerID)=\($0.entities)" })")

            // After a crash, a retry of the first spawn (same sender and id) is answered with its
            // first reply, not ALREADY_EXISTS; a new spawn of the id still is refused. The player
            // moves first, so the worker that answers holds it in memory, taken from storage: its
            // spawn's id is looked up there too (it used to be refused from memory, ALREADY_EXISTS,
            // whenever the cell had loaded before the retry came).
            cluster.worker("w1")!.killHard()
            try cluster.startWorker("w1")
            let step = Envelope.OneOf_Body.moveEntity(.with {
                $0.entityID = 40; $0.to = .init(HandoffTests.center(a)); $0.cellID = a.raw
            })
            #expect(try Self.retry(step, id: 7, name: "client:spawner", cell: a, cluster: cluster, context: context)?.code == .ok)
            let retried = try #require(try Self.retry(spawn(40, in: a), id: 1, name: "client:spawner", cell: a, cluster: cluster, context: context))
            #expect(retried.code == .ok && retried.version == 1, "\(retried.code): \(retried.message)")
            let fresh = try #require(try Self.retry(spawn(40, in: a), id: 6, name: "client:spawner", cell: a, cluster: cluster, context: context))
            #expect(fresh.code == .alreadyExists)
            let rows = try Connection(parameters).query("SELECT count(*) FROM entity_states WHERE entity_id BETWEEN 100 AND 139")
            #expect(try rows.int64(0, 0) == 40)
        }
    }
}
