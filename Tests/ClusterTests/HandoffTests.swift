import Foundation
import Testing
import ProcessKit
import TestSupport
@testable import Client
@testable import Postgres
@testable import Wire
@testable import WorldCore
@testable import ZeroMQ

@Suite struct HandoffTests {
    static let grid = WorkerProcessTests.grid

    /// Two neighbouring cells on either side of the border: (w1's, w2's).
    static func border(_ map: Cellcluster_V1_ShardMap) throws -> (CellID, CellID) {
        let partition = try map.partitionMap(grid: grid)
        for c in 0..<Int64(grid.cellCount) {
            let a = CellID(c)
            guard partition.owner(of: a) == "w1" else { continue }
            let coord = grid.coord(of: a)
            if let b = grid.cell(column: coord.column + 1, row: coord.row), partition.owner(of: b) == "w2" { return (a, b) }
        }
        throw WorkerProcessError(message: "no border found")
    }

    static func center(_ cell: CellID) -> Position { CoordinatorTests.center(cell) }

    static func row(_ parameters: ConnectionParameters, _ id: UInt64) throws -> (cell: Int64, version: Int64, epoch: Int64)? {
        let r = try Connection(parameters).query("SELECT cell_id, version, owner_epoch FROM entity_states WHERE entity_id = $1", [.int64(Int64(id))])
        guard r.rowCount == 1 else { return nil }
        return (try r.int64(0, 0), try r.int64(0, 1), try r.int64(0, 2))
    }

    static func eventually(timeout: Duration = .seconds(15), _ condition: () throws -> Bool) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? condition()) == true { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return (try? condition()) == true
    }

    @Test func anEntityWalksAcrossTheBorderAndBackAThousandTimes() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let cluster = try ProcessCluster(database: parameters.database!, workers: 2, settings: ["checkpoint.interval_ms=300"])
            defer { cluster.killAll() }
            let client = try ClusterClient(context: try Context(), coordinator: cluster.coordinatorEndpoint, grid: Self.grid)
            try client.refreshMap()
            let (a, b) = try Self.border(client.map!)
            let player = Entity(id: EntityID(1), kind: .player, position: Self.center(a), cell: a, stats: ["hp": 100])
            #expect(try client.spawn(player).code == .ok)
            var failures: [String] = []
            for i in 1...1000 {
                for target in [b, a] {
                    let reply = try client.move(EntityID(1), to: Self.center(target))
                    if reply.code != .ok { failures.append("round \(i): \(reply.code) \(reply.message)") }
                }
                if failures.count > 5 { break }
            }
            #expect(failures.isEmpty, "\(failures)")
            // Exactly one owner in memory, with the right state.
            let statuses = try client.workerStatuses()
            #expect(statuses.map(\.entities).reduce(0, +) == 1)
            #expect(statuses.first { $0.workerID == "w1" }?.entities == 1)
            let e = try client.entity(EntityID(1), near: a)
            #expect(e.code == .ok)
            #expect(e.entity.version == 2001)
            #expect(e.entity.cellID == a.raw)
            // And, after a checkpoint, in the database: once, in the cell of its owner.
            let saved = Self.eventually { try Self.row(parameters, 1)?.version == 2001 }
            #expect(saved)
            let row = try #require(try Self.row(parameters, 1))
            #expect(row.cell == a.raw)
            #expect(row.epoch == 2001, "\(cluster.workers.values.flatMap { $0.stderr.split(separator: "\n").filter { $0.contains("handoff") || $0.contains("settle") } })")  // one more owner epoch per handoff
        }
    }

    static let steps: [(fault: String, worker: Int)] = [
        ("handoff.source-before-send", 1), ("handoff.source-after-send", 1), ("handoff.target-after-receive", 2),
        ("handoff.target-after-commit", 2), ("handoff.source-after-ack", 1),
    ]

    @Test(arguments: steps.indices)
    func aWorkerKilledAtAnyHandoffStepLosesAndDuplicatesNothing(index: Int) throws {
        let (fault, victim) = Self.steps[index]
        try TestDatabase.withFreshDatabase { parameters in
            let cluster = try ProcessCluster(database: parameters.database!, workers: 2, settings: ["checkpoint.interval_ms=100"],
                                             workerArguments: ["w\(victim)": ["--fault", fault]])
            defer { cluster.killAll() }
            let client = try ClusterClient(context: try Context(), coordinator: cluster.coordinatorEndpoint, grid: Self.grid)
            try client.refreshMap()
            let (a, b) = try Self.border(client.map!)
            #expect(try client.spawn(Entity(id: EntityID(7), kind: .player, position: Self.center(a), cell: a, stats: ["hp": 3])).code == .ok)
            #expect(Self.eventually { try Self.row(parameters, 7) != nil }, "the spawn was checkpointed")

            // The move that crosses the border (sent to w1, the owner); the victim dies at the step.
            let w1 = try CellClient(context: try Context(), endpoint: cluster.endpoint(of: "w1")!)
            _ = try? w1.call(.moveEntity(.with { $0.entityID = 7; $0.to = .init(Self.center(b)); $0.cellID = a.raw }), timeout: .seconds(4), attempts: 1)
            let dead = cluster.worker("w\(victim)")!
            #expect(dead.waitForExit(timeout: .seconds(10)) != nil, "the fault did not fire: \(dead.stderr)")
            // Without its fault step this time.
            try cluster.startWorker("w\(victim)")

            // PostgreSQL holds the entity exactly once; its row names the owner (under the map of
            // now: if the restart took longer than a lease, the victim's cells failed over).
            let row = try #require(try Self.row(parameters, 7))
            // The entity answers from its owner and can move on (it comes back into memory there).
            let fresh = try ClusterClient(context: try Context(), coordinator: cluster.coordinatorEndpoint, grid: Self.grid)
            try fresh.refreshMap()
            let here = CellID(row.cell)
            let nudge = try fresh.move(EntityID(7), to: Position(x: Self.center(here).x + 1, y: Self.center(here).y), from: here)
            #expect(nudge.code == .ok, "\(nudge.code): \(nudge.message)")
            try fresh.refreshMap()
            let owner = try fresh.map!.partitionMap(grid: Self.grid).owner(of: CellID(row.cell))
            let statuses = try fresh.workerStatuses()
            #expect(statuses.map(\.entities).reduce(0, +) == 1, "\(statuses.map { "\($0.workerID)=\($0.entities)" })")
            #expect(statuses.first { $0.workerID == owner }?.entities == 1)
            // Its state went on from what was saved, and the stats survived.
            let e = try fresh.entity(EntityID(7), near: here)
            #expect(e.entity.stats["hp"] == 3)
            #expect(e.entity.version > UInt64(row.version))
        }
    }
}
