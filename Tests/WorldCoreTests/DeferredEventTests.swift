import Testing
@testable import WorldCore

@Suite struct DeferredEventTests {
    /// An NPC in a cell far from every player, loaded into storage.
    static func harnessWithRemoteNPC() throws -> Harness {
        let store = InMemoryWorldStore()
        store.put(Entity(id: EntityID(50), kind: .npc, position: Harness.center(8, 8), cell: Harness.cell(8, 8), stats: ["hp": 100]))
        var h = Harness(radius: 1, store: store)
        try h.spawn(1, .player, at: 1, 1)
        return h
    }

    @Test func eventsForInactiveCellsQueueAndReplayInOrderOnceWhenAPlayerComes() throws {
        var h = try Self.harnessWithRemoteNPC()
        let remote = Harness.cell(8, 8)
        var sequences: [UInt64] = []
        for i in 1...5 {
            guard case let .deferred(seq) = try h.act(50, in: remote, ["hp": -Double(i)]) else {
                Issue.record("expected deferred")
                return
            }
            sequences.append(seq)
        }
        let change = try h.manager.apply(.cellStateChange(set: ["weather": "storm"], remove: []), to: remote, now: h.now)
        guard case .deferred = change else { Issue.record("expected deferred"); return }
        #expect(sequences == sequences.sorted())
        #expect(h.shard.queuedEvents(in: remote).count == 6)
        #expect(h.shard.entity(EntityID(50))?.stats["hp"] ?? 100 == 100)  // nothing applied yet

        // The player walks over: the cell activates and its queue replays.
        try h.move(1, to: 7, 8)
        let npc = try #require(h.shard.entity(EntityID(50)))
        #expect(npc.stats["hp"] == 85.0)
        #expect(npc.actions == 5)
        #expect(h.shard.queuedEvents(in: remote).isEmpty)
        let view = try h.manager.cell(remote, now: h.now)
        #expect(view.properties["weather"] == "storm")
        #expect(h.shard.monitorSnapshot(now: h.now).eventsReplayed == 6)

        // Leaving and coming back does not replay anything again.
        try h.move(1, to: 1, 1)
        h.advance(.seconds(3))
        try h.move(1, to: 7, 8)
        #expect(h.shard.entity(EntityID(50))?.stats["hp"] == 85)
    }

    @Test func aDurableBatchThatDeletesReplayedEventsSavesTheEntitiesTheyChanged() throws {
        var h = try Self.harnessWithRemoteNPC()
        let remote = Harness.cell(8, 8)
        try h.act(50, in: remote, ["gold": 1])
        try h.act(50, in: remote, ["gold": 1])
        let stored = h.manager.checkpoint(now: h.now)  // the queued actions are stored
        #expect(stored)
        try h.move(1, to: 7, 8)  // the cell activates: both actions replay onto the NPC
        var shard = h.shard
        #expect(shard.entity(EntityID(50))?.actions == 2)
        #expect(shard.hasUnsavedReplay(of: EntityID(50)))  // not to be handed off yet
        #expect(!shard.hasUnsavedReplay(of: EntityID(1)))

        // Another entity's durable change: its batch deletes the stored events, so it must
        // carry the NPC they changed (a crash after it would otherwise lose both actions).
        let batch = shard.takeDurable(entities: [EntityID(1)], cells: [], now: h.now)
        #expect(batch.cells.first { $0.cell == remote }?.replayedEvents.count == 2)
        #expect(batch.entities.first { $0.id == EntityID(50) }?.actions == 2)

        // Once saved, a later durable batch does not carry the NPC again.
        shard.durableSucceeded(batch, now: h.now)
        #expect(!shard.hasUnsavedReplay(of: EntityID(50)))
        let next = shard.takeDurable(entities: [EntityID(1)], cells: [], now: h.now)
        #expect(next.entities.isEmpty && next.cells.isEmpty)
    }

    @Test func aQueueReplaysOnDemandAndTheCellStaysInactive() throws {
        var h = try Self.harnessWithRemoteNPC()
        let remote = Harness.cell(8, 8)
        try h.act(50, in: remote, ["gold": 1])
        try h.manager.apply(.entityMove(EntityID(50), to: Position(x: 830, y: 840)), to: remote, now: h.now)
        var shard = h.shard
        #expect(shard.hasQueuedEvents(for: EntityID(50), in: remote))
        shard.replayNow(remote, now: h.now)  // the NPC is about to leave for another worker
        #expect(!shard.hasQueuedEvents(for: EntityID(50), in: remote))
        #expect(shard.entity(EntityID(50))?.actions == 1)
        #expect(shard.entity(EntityID(50))?.position == Position(x: 830, y: 840))
        #expect(shard.phase(of: remote) == .resident)
        #expect(!shard.activeCells.contains(remote))
        #expect(shard.hasUnsavedReplay(of: EntityID(50)))
        // Its next event queues again, as for any entity in an inactive cell.
        guard case .deferred = try shard.apply(.entityAction(EntityID(50), action: "t", deltas: [:]), to: remote, now: h.now) else {
            Issue.record("expected deferred")
            return
        }
    }

    @Test func replayOrderIsSequenceOrderForMoves() throws {
        var h = try Self.harnessWithRemoteNPC()
        let remote = Harness.cell(8, 8)
        // Two moves of the NPC inside the inactive cell: the later one must win.
        try h.manager.apply(.entityMove(EntityID(50), to: Position(x: 810, y: 810)), to: remote, now: h.now)
        try h.manager.apply(.entityMove(EntityID(50), to: Position(x: 820, y: 830)), to: remote, now: h.now)
        try h.move(1, to: 7, 7)
        #expect(h.shard.entity(EntityID(50))?.position == Position(x: 820, y: 830))
    }

    @Test func aFullQueueRefusesWithAClearError() throws {
        var h = Harness(radius: 0, queueLimit: 3)
        let remote = Harness.cell(9, 9)
        for _ in 0..<3 { try h.manager.apply(.worldEvent(name: "rain", payload: []), to: remote, now: h.now) }
        let error = thrown { try h.manager.apply(.worldEvent(name: "rain", payload: []), to: remote, now: h.now) }
        #expect(error == .queueFull(remote, limit: 3))
        #expect(error?.description.contains("full") == true)
        #expect(h.shard.queuedEvents(in: remote).count == 3)
    }

    @Test func badEventsAreRefusedBeforeTheyQueue() throws {
        var h = Harness(radius: 0)
        let remote = Harness.cell(9, 9)
        let nan = thrown { try h.manager.apply(.entityMove(EntityID(3), to: Position(x: .nan, y: 1)), to: remote, now: h.now) }
        #expect(nan?.description == "position.x is nan; positions must be finite numbers")
        let infinite = thrown { try h.manager.apply(.entityAction(EntityID(3), action: "x", deltas: ["hp": .infinity]), to: remote, now: h.now) }
        #expect(infinite == .invalidStat(name: "hp", value: .infinity))
        let unknown = thrown { try h.manager.apply(.worldEvent(name: "x", payload: []), to: CellID(100), now: h.now) }
        #expect(unknown == .unknownCell(CellID(100)))
        #expect(h.shard.queuedEvents(in: remote).isEmpty)
    }

    @Test func storedEventsReplayExactlyOnceAcrossARestart() throws {
        var h = try Self.harnessWithRemoteNPC()
        let remote = Harness.cell(8, 8)
        for _ in 0..<3 { try h.act(50, in: remote, ["gold": 1]) }
        let saved9 = h.manager.checkpoint(now: h.now)
        #expect(saved9)
        #expect(h.store.events[remote]?.count == 3)

        // The process dies. A new shard on the same store continues above the stored sequences.
        var restarted = Harness(radius: 1, store: h.store)
        try restarted.spawn(2, .player, at: 8, 7)
        #expect(restarted.shard.entity(EntityID(50))?.stats["gold"] == 3)
        let saved10 = restarted.manager.checkpoint(now: restarted.now)
        #expect(saved10)
        #expect(restarted.store.events[remote]?.isEmpty ?? true)  // deleted with the cell record
        #expect(restarted.store.entities[EntityID(50)]?.stats["gold"] == 3)

        // A third life: nothing replays again.
        var third = Harness(radius: 1, store: restarted.store)
        try third.spawn(3, .player, at: 8, 7)
        #expect(third.shard.entity(EntityID(50))?.stats["gold"] == 3)
        #expect(third.shard.monitorSnapshot(now: third.now).eventsReplayed == 0)
    }

    @Test func aPlayersOwnEventBringsItBackAfterARestart() throws {
        let store = InMemoryWorldStore()
        store.put(Entity(id: EntityID(7), kind: .player, position: Harness.center(4, 4), cell: Harness.cell(4, 4)))
        var h = Harness(radius: 1, store: store)
        // Nothing is in memory; the game server keeps sending the player's moves.
        let outcome = try h.move(7, to: 4, 5, from: Harness.cell(4, 4))
        #expect(outcome == .deferred(sequence: 1))
        #expect(h.shard.entity(EntityID(7))?.position == Harness.center(4, 5))  // loaded, present, replayed
        #expect(h.active().isSuperset(of: Harness.window(4, 5)))
        try h.move(7, to: 4, 6)
        #expect(h.shard.entity(EntityID(7))?.cell == Harness.cell(4, 6))
    }
}
