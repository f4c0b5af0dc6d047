import Testing
@testable import WorldCore

/// Counts per cell, in an array (small grids) or a dictionary (large ones), against a plain
/// dictionary model: the same counts, the same counted cells in order, whatever the sequence.
@Suite struct CellCountsTests {
    @Test(arguments: [64, CellCounts.denseLimit + 1])
    func agreesWithADictionary(cellCount: Int) {
        var counts = CellCounts(cellCount: cellCount)
        var model: [CellID: Int] = [:]
        var random = SeededRandom(seed: UInt64(cellCount))
        for step in 0..<20_000 {
            // Mostly cells of the grid, now and then one outside it (an id a peer made up).
            let raw = random.next() % 50 == 0 ? -Int64(random.next() % 5) - 1 : Int64(random.next() % 96)
            let cell = CellID(raw)
            switch random.next() % 10 {
            case 0..<5:
                #expect(counts.add(cell) == model[cell, default: 0] + 1)
                model[cell, default: 0] += 1
            case 5..<9:
                let before = model[cell]
                #expect(counts.remove(cell) == before.map { $0 - 1 })
                if let before { model[cell] = before > 1 ? before - 1 : nil }
            default:
                counts.clear(cell)
                model[cell] = nil
            }
            #expect(counts[cell] == model[cell] ?? 0)
            if step % 997 == 0 {
                #expect(counts.cells == model.keys.sorted())
                #expect(counts.count == model.count)
            }
        }
        counts.removeAll()
        #expect(counts.isEmpty && counts.cells.isEmpty && counts[CellID(3)] == 0)
    }

    /// The worker tells neighbours what its players need only when the set of needed cells
    /// changed: a second player in a needed cell's range changes counts, not the set.
    @Test func needsChangeWhenTheSetOfNeededCellsDoes() throws {
        let grid = try Grid(width: 640, height: 640, cellSize: 64)
        var shard = Shard(settings: ShardSettings(grid: grid, activeRadius: 1))
        let now = ContinuousClock.now
        shard.setOwnership(Ownership(map: PartitionMap.even(grid: grid, workers: ["w1", "w2"], epoch: 1), worker: "w1"), now: now)
        let ownership = try #require(shard.ownership)
        // An owned cell next to a cell of the other worker.
        let border = try #require((0..<Int64(grid.cellCount)).map(CellID.init).first { cell in
            ownership.owns(cell) && grid.cells(within: 1, of: cell).contains { !ownership.owns($0) }
        })
        let coord = grid.coord(of: border)
        let spot = Position(x: Double(coord.column) * 64 + 32, y: Double(coord.row) * 64 + 32)
        let start = shard.remoteNeedsChanges
        _ = try shard.apply(.entitySpawn(Entity(id: EntityID(1), kind: .player, position: spot, cell: border)), to: border, now: now)
        let needed = shard.remoteNeededCells
        #expect(!needed.isEmpty && needed.allSatisfy { !ownership.owns($0) })
        let afterFirst = shard.remoteNeedsChanges
        #expect(afterFirst != start)
        _ = try shard.apply(.entitySpawn(Entity(id: EntityID(2), kind: .player, position: spot, cell: border)), to: border, now: now)
        #expect(shard.remoteNeedsChanges == afterFirst)  // the same cells, counted twice
        #expect(shard.remoteNeededCells == needed)
    }
}
