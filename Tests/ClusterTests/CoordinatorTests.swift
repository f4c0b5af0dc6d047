import Foundation
import Testing
import ProcessKit
import TestSupport
@testable import Client
@testable import Postgres
@testable import Wire
@testable import WorldCore
@testable import ZeroMQ

@Suite struct CoordinatorTests {
    static let grid = WorkerProcessTests.grid

    /// A cell of each worker, far from the border between them.
    static func cells(of map: Cellcluster_V1_ShardMap) throws -> [String: CellID] {
        let partition = try map.partitionMap(grid: grid)
        var found: [String: CellID] = [:]
        for c in 0..<Int64(grid.cellCount) {
            let cell = CellID(c)
            let owner = partition.owner(of: cell)
            if found[owner] == nil, grid.cells(within: 3, of: cell).allSatisfy({ partition.owner(of: $0) == owner }) {
                found[owner] = cell
            }
        }
        return found
    }

    static func center(_ cell: CellID) -> Position {
        let c = grid.coord(of: cell)
        return Position(x: Double(c.column) * 64 + 32, y: Double(c.row) * 64 + 32)
    }

    @Test func twoWorkersSplitTheWorldAndClientsReachTheOwner() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let cluster = try ProcessCluster(database: parameters.database!, workers: 2)
            defer { cluster.killAll() }
            let context = try Context()
            let client = try ClusterClient(context: context, coordinator: cluster.coordinatorEndpoint, grid: Self.grid)
            try client.refreshMap()
            let map = try #require(client.map)
            #expect(map.epoch == 1)
            #expect(Set(map.workers.map(\.workerID)) == ["w1", "w2"])
            let homes = try Self.cells(of: map)
            #expect(homes.count == 2)

            // A player in each half, each answered by its owner.
            for (i, worker) in ["w1", "w2"].enumerated() {
                let spot = Self.center(homes[worker]!)
                let player = Entity(id: EntityID(UInt64(i + 1)), kind: .player, position: spot, cell: homes[worker]!, stats: ["hp": 100])
                #expect(try client.spawn(player).code == .ok)
                #expect(try client.move(player.id, to: Position(x: spot.x + 5, y: spot.y)).code == .ok)
                let direct = try CellClient(context: context, endpoint: cluster.endpoint(of: worker)!)
                #expect(try direct.entity(player.id).position.x == spot.x + 5)
            }

            // The wrong worker redirects, naming the owner; the cluster client follows.
            let wrong = try CellClient(context: context, endpoint: cluster.endpoint(of: "w1")!)
            let redirect = try wrong.call(.getCell(.with { $0.cellID = homes["w2"]!.raw }))
            #expect(redirect.code == .wrongWorker)
            #expect(redirect.redirectWorker == "w2")
            #expect(redirect.redirectEndpoint == cluster.endpoint(of: "w2"))
            #expect(redirect.mapEpoch == 1)
            // An entity w1 does not hold, stored in w2's cell: w2's memory may be newer than the
            // row, so w1 redirects rather than answer from storage.
            let read = try wrong.call(.getEntity(.with { $0.entityID = 2 }))
            #expect(read.code == .wrongWorker && read.redirectWorker == "w2", "\(read)")
            #expect(try client.entity(EntityID(2)).entity.position.x == Self.center(homes["w2"]!).x + 5)
            let followed = try client.call(.getCell(.with { $0.cellID = homes["w2"]!.raw }), cell: homes["w2"]!)
            #expect(followed.code == .ok)
            #expect(followed.cell.entities.map(\.entityID) == [2])

            let statuses = try client.workerStatuses()
            #expect(Set(statuses.map(\.workerID)) == ["w1", "w2"])
            #expect(statuses.map(\.ownedCells).reduce(0, +) == UInt32(Self.grid.cellCount))
            let serving = statuses.filter { $0.serving }.count
            #expect(serving == 2)  // the soak counts loss windows of serving workers only
        }
    }

    @Test func aRestartedCoordinatorResumesTheStoredMap() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let cluster = try ProcessCluster(database: parameters.database!, workers: 2)
            defer { cluster.killAll() }
            let context = try Context()
            let before = try ClusterClient(context: context, coordinator: cluster.coordinatorEndpoint, grid: Self.grid)
            try before.refreshMap()
            let homes = try Self.cells(of: before.map!)
            let spot = Self.center(homes["w2"]!)
            #expect(try before.spawn(Entity(id: EntityID(9), kind: .player, position: spot, cell: homes["w2"]!)).code == .ok)

            // SIGKILL the coordinator: the workers keep serving their cells meanwhile.
            cluster.coordinator.signal(SIGKILL)
            #expect(cluster.coordinator.waitForExit() != nil)
            let direct = try CellClient(context: context, endpoint: cluster.endpoint(of: "w2")!)
            #expect(try direct.move(EntityID(9), to: Position(x: spot.x + 3, y: spot.y)).code == .ok)

            // A new coordinator on the same database: the same map, no cell moved.
            let restarted = try ChildProcess(["coordinator", "--bind", "tcp://127.0.0.1:0", "--set", "workers.count=2"],
                                             environment: ["PGDATABASE": parameters.database!])
            defer { restarted.killHard() }
            let endpoint = try restarted.waitReady()
            #expect(restarted.stdout.contains("map_epoch=1"))
            let after = try ClusterClient(context: context, coordinator: endpoint, grid: Self.grid)
            try after.refreshMap()
            #expect(after.map?.epoch == 1)
            #expect(after.map?.ranges == before.map?.ranges)
        }
    }
}
