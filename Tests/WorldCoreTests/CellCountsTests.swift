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
                #expect(counts.countedCells == model.count)
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

        // Both walk away from the border: the set empties, and that is a change.
        let inner = try #require((0..<Int64(grid.cellCount)).map(CellID.init).first { cell in
            grid.cells(within: 1, of: cell).allSatisfy { ownership.owns($0) }
        })
        let far = grid.coord(of: inner)
        let away = Position(x: Double(far.column) * 64 + 32, y: Double(far.row) * 64 + 32)
        for id in [EntityID(1), EntityID(2)] { _ = try shard.apply(.entityMove(id, to: away), to: border, now: now) }
        #expect(shard.remoteNeededCells.isEmpty)
        let afterLeaving = shard.remoteNeedsChanges
        #expect(afterLeaving != afterFirst)
        // A new map is a change whatever it does to the set; so is a fenced worker's reset.
        shard.setOwnership(shard.ownership, now: now)
        #expect(shard.remoteNeedsChanges != afterLeaving)
        let beforeReset = shard.remoteNeedsChanges
        shard.reset()
        #expect(shard.remoteNeedsChanges != beforeReset && shard.remoteNeedsChanges != 0)
    }

    /// Cells given away take their players' windows with them: the worker no longer counts
    /// them, so it stops asking the new owner to keep the cells around them active.
    @Test func givenAwayPlayersNeedNothingMore() throws {
        let grid = try Grid(width: 640, height: 640, cellSize: 64)
        var shard = Shard(settings: ShardSettings(grid: grid, activeRadius: 1))
        let now = ContinuousClock.now
        shard.setOwnership(Ownership(map: PartitionMap.even(grid: grid, workers: ["w1"], epoch: 1), worker: "w1"), now: now)
        let home = CellID(44)
        let coord = grid.coord(of: home)
        let spot = Position(x: Double(coord.column) * 64 + 32, y: Double(coord.row) * 64 + 32)
        _ = try shard.apply(.entitySpawn(Entity(id: EntityID(1), kind: .player, position: spot, cell: home)), to: home, now: now)
        #expect(shard.remoteNeededCells.isEmpty)
        // A map that gives every cell to w2: the player's window is w2's now; then the release
        // saves `home` and the shard forgets it, and the player with it.
        shard.setOwnership(Ownership(map: PartitionMap.even(grid: grid, workers: ["w2"], epoch: 2), worker: "w1"), now: now)
        #expect(shard.remoteNeededCells == grid.cells(within: 1, of: home))
        let batch = shard.takeRelease([CellTransfer(cell: home, to: "w2")], now: now)
        let before = shard.remoteNeedsChanges
        shard.forget(batch, now: now)
        #expect(shard.entity(EntityID(1)) == nil)
        #expect(shard.remoteNeededCells.isEmpty, "\(shard.remoteNeededCells)")
        #expect(shard.remoteNeedsChanges != before)
    }
}
