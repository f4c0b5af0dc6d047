import Foundation
import Testing
import TestSupport
@testable import Client
@testable import Postgres
@testable import Wire
@testable import WorldCore
@testable import ZeroMQ

/// Players that walk across the world through a `ClusterClient`, remembering every
/// acknowledged position, and counting every request that did not end in OK.
final class Walkers {
    let client: ClusterClient
    var positions: [EntityID: Position] = [:]
    var failures: [String] = []
    var moves = 0
    var rng: UInt64

    init(client: ClusterClient, seed: UInt64 = 42) {
        self.client = client
        rng = seed
    }

    func next() -> Double {
        rng = rng &* 6364136223846793005 &+ 1442695040888963407
        return Double(rng >> 11) / Double(1 << 53)
    }

    /// Spawns `count` players (ids from `first`), anywhere, or inside `cells` when given.
    func spawn(_ count: Int, first: UInt64 = 1, in cells: [CellID]? = nil) throws {
        let grid = client.grid
        for i in 0..<count {
            let position: Position
            if let cells {
                let c = grid.coord(of: cells[i % cells.count])
                position = Position(x: Double(c.column) * 64 + 8 + next() * 48, y: Double(c.row) * 64 + 8 + next() * 48)
            } else {
                position = Position(x: 32 + next() * 4000, y: 32 + next() * 4000)
            }
            let id = EntityID(first + UInt64(i))
            let entity = Entity(id: id, kind: .player, position: position, cell: try grid.cell(at: position), stats: ["hp": 100])
            let reply = try client.spawn(entity)
            if reply.code == .ok { positions[id] = position } else { failures.append("spawn \(id.raw): \(reply.code) \(reply.message)") }
        }
    }

    /// One step of every player (up to 48 units each way, bouncing off the world's edge).
    func step() {
        for id in positions.keys.sorted() {
            let p = positions[id]!
            let to = Position(x: min(4090, max(5, p.x + (next() - 0.5) * 96)), y: min(4090, max(5, p.y + (next() - 0.5) * 96)))
            do {
                let reply = try client.move(id, to: to)
                moves += 1
                if reply.code == .ok { positions[id] = to } else { failures.append("move \(id.raw) (#\(moves), map \(client.map?.epoch ?? 0)): \(reply.code) \(reply.message)") }
            } catch {
                failures.append("move \(id.raw): \(error)")
            }
        }
    }

    /// Steps until `done` holds, bounded by `limit`; true when it held.
    @discardableResult
    func walk(until done: () -> Bool, limit: Duration) -> Bool {
        let end = ContinuousClock.now + limit
        while ContinuousClock.now < end {
            if done() { return true }
            step()
        }
        return done()
    }

    /// Every player is where its last acknowledged move put it, as the cluster answers.
    func mismatches() -> [String] {
        positions.keys.sorted().compactMap { id in
            do {
                let reply = try client.entity(id)
                guard reply.code == .ok else { return "entity \(id.raw): \(reply.code) \(reply.message)" }
                let p = reply.entity.position
                return p.x == positions[id]!.x && p.y == positions[id]!.y ? nil : "entity \(id.raw) at (\(p.x), \(p.y)), expected \(positions[id]!)"
            } catch {
                return "entity \(id.raw): \(error)"
            }
        }
    }
}

enum Elastic {
    static let grid = WorkerProcessTests.grid

    /// The coordinator's current map, fresh.
    static func map(_ client: ClusterClient) throws -> Cellcluster_V1_ShardMap {
        try client.refreshMap()
        return client.map!
    }

    /// Entities in the memory of each worker of the current map.
    static func entitiesInMemory(_ client: ClusterClient) throws -> [String: UInt32] {
        Dictionary(try client.workerStatuses().map { ($0.workerID, $0.entities) }, uniquingKeysWith: { $0 + $1 })
    }

    /// Cells of `worker` at least `margin` cells from any other worker's.
    static func innerCells(of worker: String, in map: Cellcluster_V1_ShardMap, margin: Int = 3) throws -> [CellID] {
        let partition = try map.partitionMap(grid: grid)
        return partition.cells(of: worker).filter { cell in
            grid.cells(within: margin, of: cell).allSatisfy { partition.owner(of: $0) == worker }
        }
    }

    /// Rows in the database: (entity, cell, x, y, actions).
    static func stored(_ database: String) throws -> [UInt64: (cell: Int64, x: Double, y: Double, actions: Int64)] {
        let connection = try TestDatabase.connect(database: database)
        defer { connection.close() }
        let r = try connection.query(
            "SELECT entity_id, cell_id, (position->>'x')::float8, (position->>'y')::float8, actions FROM entity_states")
        var result: [UInt64: (Int64, Double, Double, Int64)] = [:]
        for row in 0..<r.rowCount {
            result[UInt64(try r.int64(row, 0))] = (try r.int64(row, 1), try r.double(row, 2), try r.double(row, 3), try r.int64(row, 4))
        }
        return result
    }

    static func sleep(_ seconds: Double) { Thread.sleep(forTimeInterval: seconds) }
}
