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
}
