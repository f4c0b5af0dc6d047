import Postgres
import WorldCore

/// The `cell_ownership` table: which worker may load and serve each cell. Written by the
/// coordinator for a new map and on failover, and by a worker giving cells away, in the same
/// transaction as their last state.
public enum CellOwnership {
    /// Sets the owner of each cell under `epoch`, unless a newer epoch is stored already.
    public static func assign(_ owners: [(cell: CellID, worker: String)], epoch: UInt64) -> PipelinedStatement {
        PipelinedStatement("""
            INSERT INTO cell_ownership AS o (cell_id, worker_id, epoch)
            SELECT t.cell, t.worker, $3::int8 FROM unnest($1::int8[], $2::text[]) AS t(cell, worker)
            ON CONFLICT (cell_id) DO UPDATE SET worker_id = EXCLUDED.worker_id, epoch = EXCLUDED.epoch
            WHERE o.epoch <= EXCLUDED.epoch
            """, [
                .text(ArrayLiteral.integers(owners.map(\.cell.raw))), .text(ArrayLiteral.texts(owners.map(\.worker))),
                .int64(Int64(bitPattern: epoch)),
            ])
    }

    /// Of `cells`, those stored as `worker`'s under `epoch` or later: released to it.
    public static func released(_ cells: [CellID], to worker: String, since epoch: UInt64, on connection: Connection) throws(PQError) -> [CellID] {
        let result = try connection.query(
            "SELECT cell_id FROM cell_ownership WHERE cell_id = ANY($1::int8[]) AND worker_id = $2 AND epoch >= $3::int8",
            [.text(ArrayLiteral.integers(cells.map(\.raw))), .text(worker), .int64(Int64(bitPattern: epoch))])
        return try (0..<result.rowCount).map { row throws(PQError) in CellID(try result.int64(row, 0)) }
    }

    /// The highest queued-event sequence stored for `cells` (0 when none).
    public static func maxSequence(in cells: [CellID], on connection: Connection) throws(PQError) -> UInt64 {
        let result = try connection.query(
            "SELECT coalesce(max(sequence), 0) FROM deferred_events WHERE cell_id = ANY($1::int8[])",
            [.text(ArrayLiteral.integers(cells.map(\.raw)))])
        return UInt64(bitPattern: try result.int64(0, 0))
    }
}
