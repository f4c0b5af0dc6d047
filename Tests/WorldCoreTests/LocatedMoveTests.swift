import Testing
@testable import WorldCore

/// `locate` then `applyMove` (the request path's one lookup for a move) does what
/// `apply(.entityMove)` does, for every kind of move a request can bring.
@Suite struct LocatedMoveTests {
    /// Moves `id` to `to` in two copies of the same shard, one each way, and checks that both
    /// answer alike and leave the same state and actions behind.
    /// - Returns: the answer, as text.
    @discardableResult
    static func expectSameMove(_ shard: Shard, _ id: UInt64, to: Position, now: ContinuousClock.Instant,
                               sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        var general = shard, located = shard
        let entity = EntityID(id)
        let cell = try #require(general.entity(entity)?.cell, sourceLocation: sourceLocation)
        let expected = Result { () throws(WorldError) in try general.apply(.entityMove(entity, to: to), to: cell, now: now) }
        let maybeFound = located.locate(entity)
        let found = try #require(maybeFound, sourceLocation: sourceLocation)
        #expect(found.cell == cell && found.kind == general.entity(entity)?.kind, sourceLocation: sourceLocation)
        let got = Result { () throws(WorldError) in try located.applyMove(entity, at: found, to: to, now: now) }
        // Compared as text: an error may carry a NaN, which equals nothing.
        func shown(_ result: Result<EventOutcome, WorldError>) -> String {
            switch result {
            case .success(let outcome): "\(outcome)"
            case .failure(let error): "error: \(error)"
            }
        }
        #expect(shown(got) == shown(expected), sourceLocation: sourceLocation)
        #expect(located.entity(entity) == general.entity(entity), sourceLocation: sourceLocation)
        #expect(located.activeCells == general.activeCells, sourceLocation: sourceLocation)
        #expect(located.queuedEvents(in: cell).map(\.sequence) == general.queuedEvents(in: cell).map(\.sequence), sourceLocation: sourceLocation)
        #expect(located.takeActions() == general.takeActions(), sourceLocation: sourceLocation)
        #expect(located.unsavedChanges == general.unsavedChanges, sourceLocation: sourceLocation)
        return shown(expected)
    }

    @Test func aPlayerMovesAlikeInItsCellAcrossABorderAndOutOfTheWorld() throws {
        var h = Harness(radius: 1)
        try h.spawn(1, .player, at: 5, 5)
        #expect(try Self.expectSameMove(h.shard, 1, to: Position(x: 551, y: 549), now: h.now).hasPrefix("applied"))  // within its cell
        #expect(try Self.expectSameMove(h.shard, 1, to: Harness.center(6, 5), now: h.now).hasPrefix("applied"))  // into the next cell
        #expect(try Self.expectSameMove(h.shard, 1, to: Harness.center(9, 9), now: h.now).hasPrefix("applied"))  // far: its window loads
        #expect(try Self.expectSameMove(h.shard, 1, to: Position(x: .nan, y: 5), now: h.now).hasPrefix("error"))  // refused alike
        #expect(try Self.expectSameMove(h.shard, 1, to: Position(x: 5_000, y: 5), now: h.now).hasPrefix("error"))  // off the grid
    }

    @Test func anNPCInACellThatCooledDownQueuesAlike() throws {
        let store = InMemoryWorldStore()
        store.put(Entity(id: EntityID(2), kind: .npc, position: Harness.center(2, 2), cell: Harness.cell(2, 2)))
        var h = Harness(radius: 1, hysteresis: .milliseconds(50), store: store)
        try h.spawn(1, .player, at: 1, 1)  // its window loads the NPC's cell,
        try h.move(1, to: 7, 7)  // then leaves it to cool down
        h.advance(.milliseconds(60))
        #expect(h.shard.phase(of: Harness.cell(2, 2)) == .resident && h.shard.entity(EntityID(2)) != nil)
        #expect(try Self.expectSameMove(h.shard, 2, to: Position(x: 251, y: 251), now: h.now).hasPrefix("deferred"))
    }

    @Test func aQuietPlayerComesBackAlike() throws {
        var h = Harness(radius: 1, hysteresis: .milliseconds(100))
        try h.spawn(1, .player, at: 5, 5)
        h.advance(.seconds(61))  // past the presence timeout: its cells cool down
        h.advance(.milliseconds(100))
        #expect(h.active().isEmpty)
        #expect(try Self.expectSameMove(h.shard, 1, to: Harness.center(5, 6), now: h.now).hasPrefix("applied"))
    }

    @Test func theUnsavedBoundRefusesAlike() throws {
        let store = InMemoryWorldStore()
        store.put(Entity(id: EntityID(9), kind: .npc, position: Harness.center(5, 5), cell: Harness.cell(5, 5)))
        var h = Harness(radius: 1, maxUnsaved: 1, store: store)
        try h.spawn(1, .player, at: 5, 5)  // the one unsaved change; its cell loads the NPC, saved
        #expect(h.shard.entity(EntityID(9)) != nil)
        #expect(try Self.expectSameMove(h.shard, 9, to: Position(x: 551, y: 551), now: h.now).contains("storage unavailable"))
    }
}
