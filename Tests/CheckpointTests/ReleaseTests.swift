import Testing
import TestSupport
@testable import Checkpoint
@testable import Postgres
@testable import WorldCore

/// A release of cells writes the unsaved entities in them, and of the others only those whose
/// stored row names a given cell (read in its transaction): the receiver loads no stale copy,
/// and the rest stay unsaved for the next checkpoint instead of making the release long.
@Suite struct ReleaseTests {
    static let given = CellID(56)  // (6, 5), given away
    static let kept = CellID(55)   // (5, 5), kept

    static func npc(_ id: UInt64, in cell: CellID) -> Entity {
        let c = StoreHarness.grid.coord(of: cell)
        return Entity(id: EntityID(id), kind: .npc, position: spot(c.column, c.row), cell: cell)
    }

    static func spot(_ column: Int, _ row: Int, dx: Double = 50) -> Position {
        Position(x: Double(column) * 100 + dx, y: Double(row) * 100 + 50)
    }

    /// The scenario against one store; `storedCell` reads where storage has an entity.
    static func releaseWritesOnlyWhatTheReceiverCouldLoadStale(_ store: some WorldStore, storedCell: (UInt64) throws -> CellID?) throws {
        let now = ContinuousClock.now
        var shard = Shard(settings: ShardSettings(grid: StoreHarness.grid, activeRadius: 2))
        _ = try shard.apply(.entitySpawn(CheckpointWriterTests.player(1, at: (5, 5))), to: kept, now: now)
        for case let .load(cell) in shard.takeActions() { shard.cellLoaded(try store.loadCell(cell), now: now) }
        // 2 and 6 in the given cell, 3 in the kept one: saved there.
        for (id, cell) in [(2, given), (3, kept), (6, given)] { _ = try shard.apply(.entitySpawn(npc(UInt64(id), in: cell)), to: cell, now: now) }
        let taken = shard.takeCheckpoint(now: now)
        let first = try #require(taken)
        shard.checkpointSucceeded(first, report: try store.write(first), duration: .zero, now: now)
        #expect(shard.unsavedChanges == 0)

        // 6 moves within the given cell; a periodic batch takes it there and is still in flight
        // when 6 leaves the cell and the release is taken: the batch lands first (the writer
        // keeps order) and puts 6's row into the given cell after all.
        _ = try shard.apply(.entityMove(EntityID(6), to: spot(6, 5, dx: 80)), to: given, now: now)
        let takenEarlier = shard.takeCheckpoint(now: now)
        let inFlight = try #require(takenEarlier)
        #expect(inFlight.entities.map(\.id.raw) == [6])
        _ = try shard.apply(.entityMove(EntityID(6), to: spot(5, 5, dx: 80)), to: given, now: now)
        // 2 leaves the given cell (its row still names it); 3 moves within the kept one; 4 is new
        // in the given cell; 5 is new in the kept one (no row at all).
        _ = try shard.apply(.entityMove(EntityID(2), to: spot(5, 5, dx: 60)), to: given, now: now)
        _ = try shard.apply(.entityMove(EntityID(3), to: spot(5, 5, dx: 70)), to: kept, now: now)
        _ = try shard.apply(.entitySpawn(npc(4, in: given)), to: given, now: now)
        _ = try shard.apply(.entitySpawn(npc(5, in: kept)), to: kept, now: now)

        let release = shard.takeRelease([CellTransfer(cell: given, to: "w2")], now: now)
        #expect(Set(release.entities.map(\.id.raw)) == [2, 3, 4, 5, 6])
        #expect(release.optionalEntities == Set([2, 3, 5, 6].map(EntityID.init)))
        shard.checkpointSucceeded(inFlight, report: try store.write(inFlight), duration: .zero, now: now)
        #expect(try storedCell(6) == given)

        let report = try store.write(release)
        #expect(report.leftOut.map(\.raw).sorted() == [3, 5])
        // Nothing stored names the given cell but what is in it.
        for id: UInt64 in [1, 2, 3, 5, 6] { #expect(try storedCell(id) != given, "entity \(id)") }
        #expect(try storedCell(4) == given)
        #expect(try storedCell(5) == nil)
        shard.durableSucceeded(release, report: report, now: now)
        shard.forget(release, now: now)
        // What was left out is still unsaved, and goes out with the next checkpoint.
        let takenNext = shard.takeCheckpoint(now: now)
        let next = try #require(takenNext)
        #expect(next.entities.map(\.id.raw).sorted() == [3, 5])
    }

    @Test func inMemory() throws {
        let store = InMemoryWorldStore()
        try Self.releaseWritesOnlyWhatTheReceiverCouldLoadStale(store) { store.entities[EntityID($0)]?.cell }
    }

    @Test func againstPostgreSQL() throws {
        try StoreHarness.withStore { store, _ in
            try Self.releaseWritesOnlyWhatTheReceiverCouldLoadStale(store) { try store.loadEntity(EntityID($0))?.cell }
            // The transfer committed with it.
            #expect(try store.connection.query("SELECT worker_id FROM cell_ownership WHERE cell_id = 56").string(0, 0) == "w2")
        }
    }
}
