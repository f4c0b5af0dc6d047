import Foundation
import Testing
import ProcessKit
import TestSupport
@testable import Client
@testable import Postgres
@testable import Wire
@testable import WorldCore
@testable import ZeroMQ

/// The elastic cluster against real processes: scaling under load, failover after SIGKILL, a
/// paused zombie, and a coordinator restart. Serialized: each runs several processes, and the
/// failover deadline should not compete with the other tests in this suite.
@Suite(.serialized) struct ElasticTests {
    static let settings = [
        "checkpoint.interval_ms=200", "rebalance.interval_ms=300", "rebalance.max_cells_per_round=512",
    ]

    @Test func scaleTwoToFourToTwoUnderLoadLosesNothing() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let cluster = try ProcessCluster(database: parameters.database!, workers: 2, settings: Self.settings)
            defer { cluster.killAll() }
            let client = try ClusterClient(context: try Context(), coordinator: cluster.coordinatorEndpoint, grid: Elastic.grid)
            let walkers = Walkers(client: client)
            try walkers.spawn(60)
            for _ in 0..<5 { walkers.step() }

            // Out: two more workers join while the players walk; the map takes them in.
            try cluster.startWorker("w3")
            try cluster.startWorker("w4")
            var lastEpoch: UInt64 = 0
            var stableSince = ContinuousClock.now
            let joined = walkers.walk(until: {
                guard let map = try? Elastic.map(client) else { return false }
                if map.epoch != lastEpoch {
                    lastEpoch = map.epoch
                    stableSince = .now
                }
                return map.workers.count == 4 && ContinuousClock.now - stableSince > .seconds(2)
            }, limit: .seconds(60))
            #expect(joined, "the map did not settle on 4 workers")
            let four = try Elastic.map(client)
            let partition = try four.partitionMap(grid: Elastic.grid)
            for worker in ["w1", "w2", "w3", "w4"] { #expect(partition.cells(of: worker).count > 100, "\(worker) owns too little") }
            #expect(try Elastic.entitiesInMemory(client).values.reduce(0, +) == 60)

            // In: the coordinator drains w3 and w4; each hands its cells over and exits by itself.
            let scale = try cluster.run(["admin", "scale", "2", "--coordinator", cluster.coordinatorEndpoint])
            #expect(scale.status == 0, "\(scale.stderr)")
            let drained = walkers.walk(until: { cluster.worker("w3")?.isRunning == false && cluster.worker("w4")?.isRunning == false },
                                       limit: .seconds(60))
            #expect(drained, "w3 and w4 did not exit")
            #expect(cluster.worker("w3")?.waitForExit(timeout: .seconds(1)) == 0)
            #expect(cluster.worker("w4")?.waitForExit(timeout: .seconds(1)) == 0)
            // Players whose cells changed hands are in their new owners' memory before they send
            // anything more (the receivers load cells that hold players when they arrive).
            let deadline = ContinuousClock.now + .seconds(5)
            var held: UInt32 = 0
            while ContinuousClock.now < deadline {
                held = try Elastic.entitiesInMemory(client).values.reduce(0, +)
                if held == 60 { break }
                Thread.sleep(forTimeInterval: 0.1)
            }
            #expect(held == 60, "players left in storage only after scale-in")
            for _ in 0..<5 { walkers.step() }

            #expect(walkers.failures.isEmpty, "\(walkers.failures.prefix(10))")
            #expect(walkers.mismatches().isEmpty, "\(walkers.mismatches().prefix(10))")
            if !walkers.failures.isEmpty {
                for id in ["w1", "w2", "w3", "w4"] {
                    let lines = cluster.worker(id)!.stderr.split(separator: "\n").filter { !$0.contains("CHECKPOINT") }
                    print("diagnostic: \(id): \(lines.count) lines\n" + lines.suffix(60).joined(separator: "\n"))
                }
                print("diagnostic: coordinator:\n" + cluster.coordinator.stderr.suffix(4000))
            }
            let two = try Elastic.map(client)
            #expect(Set(two.workers.map(\.workerID)) == ["w1", "w2"])
            let inMemory = try Elastic.entitiesInMemory(client)
            #expect(inMemory.values.reduce(0, +) == 60, "\(inMemory)")

            // Stopped with a final checkpoint: each player once in PostgreSQL, where it last went,
            // in a cell its last owner holds.
            for id in ["w1", "w2"] { cluster.worker(id)?.signal(SIGINT) }
            for id in ["w1", "w2"] { #expect(cluster.worker(id)?.waitForExit() == 0) }
            let rows = try Elastic.stored(parameters.database!)
            #expect(rows.count == 60)
            let final = try two.partitionMap(grid: Elastic.grid)
            for (id, p) in walkers.positions {
                let row = try #require(rows[id.raw])
                #expect(row.x == p.x && row.y == p.y, "entity \(id.raw)")
                #expect(row.cell == (try Elastic.grid.cell(at: p)).raw)
                #expect(["w1", "w2"].contains(final.owner(of: CellID(row.cell))))
            }
            print("scale 2 -> 4 -> 2: \(walkers.moves) moves, \(client.retries) retries, 0 failures, map epoch \(two.epoch)")
        }
    }

    @Test func aKilledWorkersCellsAreServedAgainWithinThreeSecondsWithEveryDurableWrite() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let cluster = try ProcessCluster(
                database: parameters.database!, workers: 2, settings: Self.settings + ["events.durability.entity_action=durable", "checkpoint.interval_ms=60000"])
            defer { cluster.killAll() }
            let client = try ClusterClient(context: try Context(), coordinator: cluster.coordinatorEndpoint, grid: Elastic.grid)
            client.attemptTimeout = .milliseconds(200)
            let map = try Elastic.map(client)
            let cells = try Elastic.innerCells(of: "w2", in: map)
            let walkers = Walkers(client: client)
            try walkers.spawn(20, in: Array(cells.prefix(20)))
            // Five durable actions each: acknowledged only after commit.
            for id in walkers.positions.keys.sorted() {
                for _ in 0..<5 {
                    let reply = try client.call(.entityAction(.with { $0.entityID = id.raw; $0.action = "mine"; $0.statDeltas = ["gold": 1] }),
                                                cell: try Elastic.grid.cell(at: walkers.positions[id]!))
                    #expect(reply.code == .ok && reply.durable)
                }
            }

            cluster.worker("w2")!.signal(SIGKILL)
            let killed = ContinuousClock.now
            let probe = walkers.positions.keys.min()!
            var served: Duration?
            while ContinuousClock.now - killed < .seconds(10) {
                if let reply = try? client.entity(probe), reply.code == .ok {
                    served = ContinuousClock.now - killed
                    break
                }
            }
            let failover = try #require(served)
            print("failover: cells of a SIGKILLed worker served again after \(failover)")
            #expect(failover < .seconds(3))

            for id in walkers.positions.keys.sorted() {
                let reply = try client.entity(id)
                #expect(reply.code == .ok)
                #expect(reply.entity.actions == 5, "entity \(id.raw): durable actions lost")
                #expect(reply.entity.stats["gold"] == 5)
            }
            for _ in 0..<3 { walkers.step() }
            #expect(walkers.failures.isEmpty, "\(walkers.failures.prefix(5))")
            #expect(Set(try Elastic.map(client).workers.map(\.workerID)) == ["w1"])
        }
    }

    /// A SIGKILLed worker's lease is taken back well before it runs out: the leader's own
    /// connection to it closed from its end, and its database sessions closed with it
    /// (`LinkWatch`). A paused worker, silent as long but still connected, keeps its lease.
    @Test func aKilledWorkersLeaseEndsEarlyAndAPausedOnesDoesNot() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let cluster = try ProcessCluster(database: parameters.database!, workers: 2, settings: Self.settings + ["leases.lease_ms=5000"])
            defer { cluster.killAll() }
            let client = try ClusterClient(context: try Context(), coordinator: cluster.coordinatorEndpoint, grid: Elastic.grid)
            client.attemptTimeout = .milliseconds(200)
            func workers() -> Set<String> { Set(((try? Elastic.map(client))?.workers ?? []).map(\.workerID)) }
            #expect(workers() == ["w1", "w2"])
            let w2 = cluster.worker("w2")!
            w2.signal(SIGSTOP)
            Elastic.sleep(3)
            #expect(workers() == ["w1", "w2"], "a paused worker lost its lease early")
            w2.signal(SIGCONT)
            // A coordinator that just took its lead gives every worker one lease period before
            // it fails any over (a cluster restarting in order); the kill comes after that.
            Elastic.sleep(2.5)

            w2.signal(SIGKILL)
            let killed = ContinuousClock.now
            var gone: Duration?
            while ContinuousClock.now - killed < .seconds(7) {
                if workers() == ["w1"] {
                    gone = ContinuousClock.now - killed
                    break
                }
                Elastic.sleep(0.05)
            }
            let failover = try #require(gone, "w2 was not failed over within 7 s: \(cluster.coordinator.stderr.suffix(2000))")
            print("failover: the lease of a SIGKILLed worker ended after \(failover) (lease 5 s)")
            if failover >= .seconds(3) { print("diagnostic: coordinator\n\(cluster.coordinator.stderr.suffix(3000))") }
            #expect(failover < .seconds(3))
            #expect(cluster.coordinator.stderr.contains("worker w2 is gone: its connection closed from its end"))
            #expect(!cluster.coordinator.stderr.contains("worker w1 is gone"))
        }
    }

    @Test func aPausedWorkerPastItsLeaseNeitherServesNorWritesStaleState() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let cluster = try ProcessCluster(database: parameters.database!, workers: 2, settings: Self.settings + ["checkpoint.interval_ms=1000"])
            defer { cluster.killAll() }
            let context = try Context()
            let client = try ClusterClient(context: context, coordinator: cluster.coordinatorEndpoint, grid: Elastic.grid)
            client.attemptTimeout = .milliseconds(200)
            let cells = try Elastic.innerCells(of: "w2", in: try Elastic.map(client))
            let walkers = Walkers(client: client)
            try walkers.spawn(1, first: 77, in: [cells[0]])
            let id = EntityID(77)
            let home = walkers.positions[id]!
            Elastic.sleep(1.5)  // the spawn is checkpointed
            // The zombie's last change stays in its memory (the checkpoint interval is 1 s).
            #expect(try client.move(id, to: Position(x: home.x + 1, y: home.y)).code == .ok)
            let w2 = cluster.worker("w2")!
            let w2Endpoint = cluster.endpoint(of: "w2")!
            w2.signal(SIGSTOP)
            defer { w2.signal(SIGCONT) }

            // Another worker serves the player after the lease ran out; it moves on from there.
            let stopped = ContinuousClock.now
            var moved = false
            while !moved && ContinuousClock.now - stopped < .seconds(10) {
                moved = (try? client.move(id, to: Position(x: home.x + 7, y: home.y)))?.code == .ok
            }
            #expect(moved)
            #expect(Set(try Elastic.map(client).workers.map(\.workerID)) == ["w1"])
            Elastic.sleep(1.5)  // w1's checkpoint
            #expect(try Elastic.stored(parameters.database!)[77]?.x == home.x + 7)

            // SIGCONT: the zombie does not answer for the player, and its unsaved change is fenced.
            w2.signal(SIGCONT)
            let direct = try CellClient(context: context, endpoint: w2Endpoint)
            let answer = try direct.call(.getEntity(.with { $0.entityID = 77 }), timeout: .seconds(5), attempts: 1)
            #expect(answer.code != .ok, "the zombie answered: \(answer)")
            if answer.code == .ok {  // seen twice in CI (sessions 9 and 11): what the zombie did around it
                print("diagnostic: the zombie answered at \(ContinuousClock.now - stopped) after SIGSTOP\ndiagnostic: w2\n\(w2.stderr.suffix(4000))")
            }
            let stale = try direct.call(.moveEntity(.with { $0.entityID = 77; $0.to = .with { $0.x = home.x + 99; $0.y = home.y } }),
                                        timeout: .seconds(5), attempts: 1)
            #expect(stale.code != .ok, "the zombie took a write: \(stale)")
            Elastic.sleep(2.5)  // its checkpoint would have run by now
            #expect(try Elastic.stored(parameters.database!)[77]?.x == home.x + 7)
            #expect(w2.stderr.contains("fenced") || w2.stderr.contains("lease revoked"), "\(w2.stderr.suffix(1500))")
            let now = try client.entity(id)
            #expect(now.code == .ok && now.entity.position.x == home.x + 7)
            if now.entity.position.x != home.x + 7 {
                print("diagnostic: now \(now)\ndiagnostic: w1\n\(cluster.worker("w1")!.stderr.suffix(3000))\ndiagnostic: w2\n\(cluster.worker("w2")!.stderr.suffix(3000))")
            }
        }
    }

    @Test func aRestartedCoordinatorMovesNoCellAndClientsSeeOnlyRetries() throws {
        try TestDatabase.withFreshDatabase { parameters in
            // No moves for load here: what is tested is that the restart itself moves nothing.
            let cluster = try ProcessCluster(database: parameters.database!, workers: 2, settings: Self.settings + ["rebalance.threshold=1000"])
            defer { cluster.killAll() }
            let client = try ClusterClient(context: try Context(), coordinator: cluster.coordinatorEndpoint, grid: Elastic.grid)
            let walkers = Walkers(client: client)
            try walkers.spawn(30)
            for _ in 0..<3 { walkers.step() }
            let before = try Elastic.map(client)

            // SIGKILL; the players walk on for two seconds without a coordinator; then a new one.
            cluster.coordinator.signal(SIGKILL)
            cluster.coordinator.waitForExit()
            walkers.walk(until: { false }, limit: .seconds(2))
            try cluster.restartCoordinator()
            walkers.walk(until: { false }, limit: .seconds(3))

            let after = try Elastic.map(client)
            #expect(after.epoch == before.epoch)
            #expect(after.ranges == before.ranges)
            #expect(walkers.failures.isEmpty, "\(walkers.failures.prefix(5))")
            #expect(walkers.mismatches().isEmpty)
            #expect(cluster.coordinator.stdout.contains("map_epoch=\(before.epoch)"))
        }
    }
}
