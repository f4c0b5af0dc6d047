import Testing
@testable import WorldCore

/// A load's answer is a snapshot from when storage read it: an entity that left this worker's
/// memory after the load was asked for (handed off, given away, evicted) must not come back from
/// it. The 10-minute soak of session 6 lost acknowledged moves this way: w1 handed player 435 to
/// w2 while a load of its old cell was out; the answer (from before w2's claim) put the old copy
/// back into w1's memory, and w1 later served it.
@Suite struct StaleLoadTests {
    let t0 = ContinuousClock.now
    let grid = Harness.grid
    let home = Harness.cell(2, 2), other = Harness.cell(7, 7)

    func shard() -> Shard { Shard(settings: ShardSettings(grid: grid, activeRadius: 0)) }

    func player(at cell: CellID, version: UInt64, epoch: UInt64) -> Entity {
        var e = Entity(id: EntityID(435), kind: .player, position: Harness.center(2, 2), cell: cell)
        e.version = version
        e.ownerEpoch = epoch
        return e
    }

    @Test func anEntityThatLeftAfterTheLoadWasAskedIsNotTakenFromIt() throws {
        var s = shard()
        // The player is here; a load of another cell holding an old row of it goes out.
        _ = try s.apply(.entitySpawn(player(at: home, version: 0, epoch: 2)), to: home, now: t0)
        for case let .load(cell) in s.takeActions() { s.cellLoaded(CellCheckpoint(cell: cell), now: t0) }
        s.requestCell(other, now: t0)
        let asked = s.departures
        // It is handed off and dropped here while the load is out.
        s.dropEntity(EntityID(435), now: t0)
        let skipped = s.cellsLoaded([CellCheckpoint(cell: other, entities: [player(at: other, version: 234, epoch: 2)])], asked: asked, now: t0)
        #expect(skipped == [EntityID(435)])
        #expect(s.entity(EntityID(435)) == nil)
        #expect(s.phase(of: other) != .loading)  // the rest of the answer was installed
    }

    @Test func aLoadAskedAfterTheDepartureTakesIt() throws {
        var s = shard()
        _ = try s.apply(.entitySpawn(player(at: home, version: 0, epoch: 2)), to: home, now: t0)
        for case let .load(cell) in s.takeActions() { s.cellLoaded(CellCheckpoint(cell: cell), now: t0) }
        s.dropEntity(EntityID(435), now: t0)
        // Given back to this worker later: a load asked now reads what was saved since.
        s.requestCell(other, now: t0)
        let asked = s.departures
        let skipped = s.cellsLoaded([CellCheckpoint(cell: other, entities: [player(at: other, version: 300, epoch: 5)])], asked: asked, now: t0)
        #expect(skipped.isEmpty)
        #expect(s.entity(EntityID(435))?.version == 300)
        // Departures no load predates are forgotten.
        s.forgetDepartures(before: s.departures)
        #expect(s.departedAt.isEmpty)
    }

    /// The same for a read answered from storage (the worker's `answerRead`): a row read after
    /// the read was asked for is not answered when the entity left memory since.
    @Test func aReadAskedBeforeTheDepartureIsToldSo() throws {
        var s = shard()
        _ = try s.apply(.entitySpawn(player(at: home, version: 0, epoch: 2)), to: home, now: t0)
        let asked = s.departures
        #expect(!s.departed(EntityID(435), since: asked))
        s.dropEntity(EntityID(435), now: t0)
        #expect(s.departed(EntityID(435), since: asked))
        #expect(!s.departed(EntityID(435), since: s.departures))  // asked after it left
        #expect(!s.departed(EntityID(1), since: asked))  // another entity
    }
}
