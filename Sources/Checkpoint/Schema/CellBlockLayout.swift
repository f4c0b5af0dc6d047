import Postgres

/// The grid width that `entity_states.cell_block` is laid out for (migration 9): one row,
/// stored, so that every process agrees on a cell's block whatever its cluster.yml says.
/// `cellcluster db migrate` sets it from cluster.yml's grid while no entity is stored; once rows
/// exist it stays (a different width costs locality, never correctness).
public enum CellBlockLayout {
    public enum Outcome: Sendable, Equatable {
        /// Already laid out for this width.
        case unchanged
        /// Laid out for this width now (it was `previous`).
        case adopted(previous: Int64)
        /// Entities are stored under another width (`stored`); it stays.
        case kept(stored: Int64)
    }

    /// Lays the blocks out for a grid `columns` cells wide, unless entities are stored already.
    /// Holds off every write to `entity_states` meanwhile, so no row gets a block of the old layout
    /// after the check.
    public static func adopt(columns: Int, _ connection: Connection) throws -> Outcome {
        try connection.transaction { conn in
            try conn.query("LOCK TABLE entity_states IN SHARE ROW EXCLUSIVE MODE")
            let stored = try conn.query("SELECT columns FROM cell_block_layout FOR UPDATE").int64(0, 0)
            guard stored != Int64(columns) else { return .unchanged }
            guard try !conn.query("SELECT EXISTS (SELECT 1 FROM entity_states)").bool(0, 0) else { return .kept(stored: stored) }
            try conn.query("UPDATE cell_block_layout SET columns = $1::int8", [.int64(Int64(columns))])
            return .adopted(previous: stored)
        }
    }

    /// The block of `cell` under a layout `columns` wide: the server's `cell_block(cell, columns)`
    /// (migration 9), for a program that writes rows without it (`bench checkpoint`'s raw
    /// methods). Integer division truncates toward zero in both.
    public static func block(of cell: Int64, columns: Int64) -> Int64 {
        let blockColumns = columns / 8 + (columns % 8 == 0 ? 0 : 1)  // (columns + 7) / 8, without overflow
        return (cell / columns / 8) * blockColumns + (cell % columns) / 8
    }

    /// The stored width.
    public static func columns(_ connection: Connection) throws(PQError) -> Int64 {
        try connection.query("SELECT columns FROM cell_block_layout").int64(0, 0)
    }
}
