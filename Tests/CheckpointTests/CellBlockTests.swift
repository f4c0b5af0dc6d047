import Foundation
import Testing
import TestSupport
@testable import Checkpoint
@testable import Postgres
@testable import WorldCore

/// `entity_states` finds a cell's entities through their block of 8 x 8 cells (migration 9), so a
/// checkpoint that rewrites an entity which crossed a cell border, but not a block border, rewrites
/// it in place.
@Suite struct CellBlockTests {
    /// The harness's grid is 10 cells wide: cells 0 and 1 share block 0, cell 8 is in block 1.
    static func moved(_ ids: ClosedRange<UInt64>, to cell: Int64, version: UInt64) -> [Entity] {
        ids.map { StoreHarness.entity($0, cell: cell, version: version) }
    }

    /// Updates of `entity_states` and how many were in place, once the counters include `updates`.
    static func updates(_ parameters: ConnectionParameters, reaching updates: Int64) throws -> (all: Int64, inPlace: Int64) {
        let stats = try Connection(parameters)
        defer { stats.close() }
        var last: (Int64, Int64) = (0, 0)
        _ = try StoreHarness.eventually {
            try stats.query("SELECT pg_stat_clear_snapshot()")
            let r = try stats.query("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'entity_states'")
            last = (try r.int64(0, 0), try r.int64(0, 1))
            return last.0 >= updates
        }
        return last
    }

    /// Few rows, on one page with room for their new versions (an in-place rewrite needs room on its page).
    @Test func aRewriteWithinItsBlockIsInPlaceAndOneAcrossBlocksIsFoundInItsNewCell() throws {
        try StoreHarness.withStore { store, parameters in
            #expect(try CellBlockLayout.adopt(columns: StoreHarness.grid.columns, store.connection) == .adopted(previous: 64))
            try store.write(StoreHarness.batch(Self.moved(1...10, to: 0, version: 1)))
            try store.write(StoreHarness.batch(Self.moved(1...5, to: 1, version: 2)))  // same block
            try store.connection.query("SELECT pg_stat_force_next_flush()")  // the writes' counters, once idle
            let within = try Self.updates(parameters, reaching: 5)
            #expect(within == (5, 5))
            try store.write(StoreHarness.batch(Self.moved(6...10, to: 8, version: 2)))  // the next block
            try store.connection.query("SELECT pg_stat_force_next_flush()")
            let across = try Self.updates(parameters, reaching: 10)
            #expect(across == (10, 5))

            let loaded = try store.loadCells([CellID(0), CellID(1), CellID(8)])
            let byCell = Dictionary(uniqueKeysWithValues: loaded.map { ($0.cell.raw, $0.entities.map(\.id.raw).sorted()) })
            #expect(byCell[0] == [])
            #expect(byCell[1] == Array(1...5))
            #expect(byCell[8] == Array(6...10))
            #expect(try store.loadCell(CellID(8)).entities.count == 5)
        }
    }

    @Test func theBlockComputedHereIsTheServers() throws {
        try StoreHarness.withStore { store, _ in
            let cells: [Int64] = [0, 1, 7, 8, 63, 64, 65, 511, 512, 4095, 4096, 99_999, -1, -8, -9, -64, -65,
                                  Int64.max, Int64.max - 7, Int64.min, Int64.min + 1]
            for columns: Int64 in [1, 3, 8, 9, 10, 64, 100, 1_000_003, Int64.max / 2] {
                let r = try store.connection.query(
                    "SELECT cell_block(c, $2::int8) FROM unnest($1::int8[]) WITH ORDINALITY AS u(c, n) ORDER BY n",
                    [.array(.int8(cells)), .int64(columns)])
                for (i, cell) in cells.enumerated() {
                    #expect(try r.int64(i, 0) == CellBlockLayout.block(of: cell, columns: columns), "cell \(cell), \(columns) columns")
                }
            }
        }
    }

    @Test func aRowWithoutABlockIsStillFoundByItsCell() throws {
        try StoreHarness.withStore { store, _ in
            try store.connection.query("""
                INSERT INTO entity_states (entity_id, cell_id, kind, position, version, owner_epoch)
                VALUES (7, 3, 1, '{"x": 310, "y": 10}', 4, 2)
                """)
            #expect(try store.loadCells([CellID(3)]).first?.entities.map(\.id.raw) == [7])
            #expect(try store.loadCell(CellID(3)).entities.map(\.version) == [4])
            // Written once by the store, it has its block.
            try store.write(StoreHarness.batch([StoreHarness.entity(7, cell: 3, version: 5, epoch: 2)]))
            let block = try store.connection.query("SELECT cell_block FROM entity_states WHERE entity_id = 7")
            #expect(block.string(0, 0) != nil)
            #expect(try store.loadCells([CellID(3)]).first?.entities.map(\.version) == [5])
        }
    }

    @Test func theLayoutChangesOnlyWhileNoEntityIsStoredAndAnyLayoutFindsEveryCell() throws {
        try StoreHarness.withStore { store, _ in
            #expect(try CellBlockLayout.adopt(columns: 64, store.connection) == .unchanged)
            #expect(try CellBlockLayout.adopt(columns: 3, store.connection) == .adopted(previous: 64))
            // Cells of a 10-wide grid under a layout for 3 columns, and ids no grid has.
            let cells: [Int64] = [0, 1, 2, 3, 9, 10, 11, 29, 30, 99, -1, -9, Int64.max, Int64.min, Int64.max - 1]
            let entities = cells.enumerated().map { i, cell in StoreHarness.entity(UInt64(i + 1), cell: cell) }
            try store.write(StoreHarness.batch(entities))
            #expect(try CellBlockLayout.adopt(columns: 10, store.connection) == .kept(stored: 3))
            #expect(try CellBlockLayout.columns(store.connection) == 3)
            for (i, cell) in cells.enumerated() {
                #expect(try store.loadCells([CellID(cell)]).first?.entities.map(\.id.raw) == [UInt64(i + 1)], "cell \(cell)")
            }
            let all = try store.loadCells(cells.map(CellID.init)).flatMap(\.entities).map(\.id.raw).sorted()
            #expect(all == Array(1...UInt64(cells.count)))

            // Without its layout row, entities are written without a block (by a checkpoint, a
            // claim, a spawn) and still found.
            try store.connection.query("DELETE FROM cell_block_layout")
            try store.write(StoreHarness.batch([StoreHarness.entity(100, cell: 4)]))
            #expect(try store.claim(StoreHarness.entity(101, cell: 4), expected: 0) == .won)
            #expect(try store.loadCells([CellID(4)]).first?.entities.map(\.id.raw) == [100, 101])
            #expect(try store.connection.query("SELECT count(*) FROM entity_states WHERE cell_block IS NULL").int64(0, 0) == 2)
        }
    }
}
