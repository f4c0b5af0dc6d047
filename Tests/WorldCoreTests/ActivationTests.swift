import Testing
@testable import WorldCore

@Suite struct ActivationTests {
    @Test func aPlayerActivatesTheCellsWithinItsRadius() throws {
        var h = Harness(radius: 1)
        try h.spawn(1, .player, at: 5, 5)
        #expect(h.active() == Harness.window(5, 5))
        #expect(h.store.reads == 9)  // each cell loaded once, lazily
        // Cells far away stay unloaded.
        #expect(h.shard.phase(of: Harness.cell(0, 0)) == nil)
    }

    @Test func playersInCellsTakenOverArePresentOnceTheirCellsLoad() throws {
        var shard = Shard(settings: ShardSettings(grid: Harness.grid, activeRadius: 1))
        let now = ContinuousClock.now
        let player = Entity(id: EntityID(7), kind: .player, position: Harness.center(3, 3), cell: Harness.cell(3, 3))
        let npc = Entity(id: EntityID(8), kind: .npc, position: Harness.center(6, 6), cell: Harness.cell(6, 6))
        shard.welcomePlayers(in: [Harness.cell(3, 3), Harness.cell(6, 6)], now: now)
        var loads = 0
        for _ in 0..<3 {  // the player's window asks for more cells once its own is in
            for case let .load(cell) in shard.takeActions() {
                loads += 1
                let stored = [player, npc].filter { $0.cell == cell }
                shard.cellLoaded(CellCheckpoint(cell: cell, entities: stored), now: now)
            }
        }
        #expect(shard.entity(EntityID(7)) != nil)
        #expect(Set(shard.activeCells) == Harness.window(3, 3))  // as if it had just acted
        #expect(shard.entity(EntityID(8)) != nil)
        #expect(shard.phase(of: Harness.cell(6, 6)) == .resident)  // an NPC keeps nothing active
        #expect(loads == 10)  // the two cells asked for, and the rest of the player's window
    }

    @Test func movingShiftsTheActiveSetWithHysteresis() throws {
        var h = Harness(radius: 1, hysteresis: .seconds(2))
        try h.spawn(1, .player, at: 5, 5)
        try h.move(1, to: 6, 5, from: Harness.cell(5, 5))
        let left = [Harness.cell(4, 4), Harness.cell(4, 5), Harness.cell(4, 6)]
        // Column 4 is out of the radius now, but still active while it cools.
        for cell in left {
            guard case .cooling? = h.shard.phase(of: cell) else {
                Issue.record("\(cell) should be cooling, is \(String(describing: h.shard.phase(of: cell)))")
                continue
            }
        }
        #expect(h.active() == Harness.window(5, 5).union(Harness.window(6, 5)))
        h.advance(.milliseconds(1999))
        #expect(h.active().isSuperset(of: left))
        h.advance(.milliseconds(1))
        #expect(h.active() == Harness.window(6, 5))
        for cell in left { #expect(h.shard.phase(of: cell) == .resident) }
        let notices = h.manager.takeNotices()
        #expect(notices.filter { if case .deactivated = $0 { true } else { false } }.count == 3)
    }

    @Test func walkingAlongAnEdgeDoesNotThrash() throws {
        var h = Harness(radius: 1, hysteresis: .seconds(2))
        try h.spawn(1, .player, at: 5, 5)
        let loadsAfterSpawn = h.store.reads
        for step in 0..<40 {  // back and forth across the 5|6 border every 100 ms
            try h.move(1, to: step % 2 == 0 ? 6 : 5, 5)
            h.advance(.milliseconds(100))
        }
        // Column 7 entering the radius, and the cells prefetched one ring ahead of each step
        // (column 8, then column 3): each loaded once, never dropped and reloaded.
        #expect(h.store.reads == loadsAfterSpawn + 3 + 5 + 5)
        #expect(h.shard.monitorSnapshot(now: h.now).evictions == 0)
        for cell in Harness.window(5, 5).union(Harness.window(6, 5)) { #expect(h.shard.phase(of: cell)?.isActive == true) }
    }

    @Test func anotherPlayerKeepsASharedCellActive() throws {
        var h = Harness(radius: 1, hysteresis: .milliseconds(10))
        try h.spawn(1, .player, at: 2, 2)
        try h.spawn(2, .player, at: 4, 2)
        try h.move(1, to: 0, 2)
        h.advance(.milliseconds(20))
        // Column 3 is still within player 2's radius.
        #expect(h.shard.phase(of: Harness.cell(3, 2)) == .active)
        #expect(h.shard.phase(of: Harness.cell(2, 2)) == .resident)
    }

    @Test func aQuietPlayerStopsKeepingCellsActive() throws {
        var h = Harness(radius: 1, hysteresis: .milliseconds(100))
        try h.spawn(1, .player, at: 5, 5)
        h.advance(.seconds(61))  // presence timeout 60 s
        h.advance(.milliseconds(100))
        #expect(h.active().isEmpty)
        // Its next move brings it back.
        try h.move(1, to: 5, 6)
        #expect(h.active().isSuperset(of: Harness.window(5, 6)))
        h.advance(.milliseconds(100))
        #expect(h.active() == Harness.window(5, 6))
    }

    @Test func readsOfUnloadedCellsAnswerFromStorageWithoutLoading() throws {
        var h = Harness(radius: 0)
        h.store.put(Entity(id: EntityID(9), kind: .npc, position: Harness.center(1, 1), cell: Harness.cell(1, 1)))
        let view = try h.manager.cell(Harness.cell(1, 1), now: h.now)
        #expect(view.phase == nil)
        #expect(view.entities.map(\.id) == [EntityID(9)])
        #expect(h.shard.phase(of: Harness.cell(1, 1)) == nil)
        let snapshot = h.shard.monitorSnapshot(now: h.now)
        #expect(snapshot.cacheMisses == 1 && snapshot.dbReads == 1)
    }
}
