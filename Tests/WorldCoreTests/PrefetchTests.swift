import Testing
@testable import WorldCore

@Suite struct PrefetchTests {
    @Test func theRingAheadOfAStepIsItsLeadingEdge() {
        let grid = Harness.grid
        let east = Set(grid.cells(ahead: 2, of: Harness.cell(5, 5), from: Harness.cell(4, 5)))
        #expect(east == Set((3...7).map { Harness.cell(7, $0) }))
        let north = Set(grid.cells(ahead: 2, of: Harness.cell(5, 5), from: Harness.cell(5, 6)))
        #expect(north == Set((3...7).map { Harness.cell($0, 3) }))
        // A diagonal step: both leading edges, their shared corner once.
        let diagonal = grid.cells(ahead: 1, of: Harness.cell(5, 5), from: Harness.cell(4, 4))
        #expect(Set(diagonal) == [Harness.cell(6, 4), Harness.cell(6, 5), Harness.cell(6, 6), Harness.cell(4, 6), Harness.cell(5, 6)])
        #expect(diagonal.count == Set(diagonal).count)
        // Clipped at the world's edge; nothing for a step that stays in its cell.
        #expect(Set(grid.cells(ahead: 2, of: Harness.cell(9, 0), from: Harness.cell(8, 0))).isEmpty)
        #expect(grid.cells(ahead: 2, of: Harness.cell(5, 5), from: Harness.cell(5, 5)).isEmpty)
    }

    @Test func aWalkingPlayerLoadsTheCellsAheadBeforeItsRadiusReachesThem() throws {
        var h = Harness(radius: 1)
        try h.spawn(1, .player, at: 3, 5)
        let before = h.store.reads
        try h.move(1, to: 4, 5, from: Harness.cell(3, 5))
        // Column 5 enters the radius (active), column 6 is prefetched (resident, not active).
        for row in 4...6 { #expect(h.shard.phase(of: Harness.cell(5, row))?.isActive == true) }
        for row in 3...7 { #expect(h.shard.phase(of: Harness.cell(6, row)) == .resident) }
        #expect(h.store.reads - before == 3 + 5)
        #expect(h.shard.monitorSnapshot(now: h.now).prefetches == 5)
        // The next step finds its new column in memory already: a cache hit, no load.
        let reads = h.store.reads
        let hits = h.shard.monitorSnapshot(now: h.now).cacheHits
        try h.move(1, to: 5, 5, from: Harness.cell(4, 5))
        #expect(h.shard.monitorSnapshot(now: h.now).cacheHits - hits == 3)
        #expect(h.store.reads - reads == 5)  // only the next ring ahead, column 7
    }

    @Test func anotherWorkersCellsAreNotPrefetched() throws {
        let grid = Harness.grid
        let map = PartitionMap.even(grid: grid, workers: ["w1", "w2"], epoch: 1)
        // A step between two of w1's cells whose ring ahead reaches into w2's cells.
        var step: (from: CellCoord, to: CellCoord)?
        for row in 0..<10 {
            for column in 0..<9 {
                let from = Harness.cell(column, row), to = Harness.cell(column + 1, row)
                guard map.owner(of: from) == "w1", map.owner(of: to) == "w1" else { continue }
                if grid.cells(ahead: 2, of: to, from: from).contains(where: { map.owner(of: $0) == "w2" }),
                    grid.cells(ahead: 2, of: to, from: from).contains(where: { map.owner(of: $0) == "w1" }) {
                    step = (grid.coord(of: from), grid.coord(of: to))
                }
            }
        }
        let (from, to) = try #require(step)
        var shard = Shard(settings: ShardSettings(grid: grid, activeRadius: 1))
        let now = ContinuousClock.now
        shard.setOwnership(Ownership(map: map, worker: "w1"), now: now)
        let player = Entity(id: EntityID(1), kind: .player, position: Harness.center(from.column, from.row), cell: Harness.cell(from.column, from.row))
        _ = try shard.apply(.entitySpawn(player), to: player.cell, now: now)
        for case let .load(cell) in shard.takeActions() { shard.cellLoaded(CellCheckpoint(cell: cell), now: now) }
        _ = try shard.apply(.entityMove(EntityID(1), to: Harness.center(to.column, to.row)), to: player.cell, now: now)
        let loads = shard.takeActions().compactMap { action -> CellID? in if case .load(let c) = action { c } else { nil } }
        let ahead = grid.cells(ahead: 2, of: Harness.cell(to.column, to.row), from: player.cell)
        #expect(!loads.contains { map.owner(of: $0) == "w2" })
        #expect(loads.contains { ahead.contains($0) })  // w1's cells ahead are prefetched
    }
}
