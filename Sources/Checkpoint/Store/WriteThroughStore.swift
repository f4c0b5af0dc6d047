import Postgres
import WorldCore

/// The design's "before": every change is its own UPDATE (an upsert of one row, autocommit).
/// Kept as the baseline the write-behind checkpoints are measured against, and as the worker's
/// `checkpoint.mode: write_through`.
public final class WriteThroughStore {
    public let connection: Connection
    public private(set) var statements = 0
    private var prepared = false

    public init(connection: Connection) {
        self.connection = connection
    }

    static let upsert = """
        INSERT INTO entity_states AS s (entity_id, cell_id, kind, stats, position, version, actions, owner_epoch, updated_at)
        VALUES ($1::int8, $2::int8, $3::int4, $4::jsonb, $5::jsonb, $6::int8, $7::int8, $8::int8, now())
        ON CONFLICT (entity_id) DO UPDATE SET
            cell_id = EXCLUDED.cell_id, kind = EXCLUDED.kind, stats = EXCLUDED.stats, position = EXCLUDED.position,
            version = EXCLUDED.version, actions = EXCLUDED.actions, owner_epoch = EXCLUDED.owner_epoch, updated_at = now()
        WHERE s.owner_epoch <= EXCLUDED.owner_epoch
        """

    /// Writes one entity's state now.
    public func write(_ e: Entity) throws(PQError) {
        if !prepared {
            try connection.prepare("write_through_entity", Self.upsert)
            prepared = true
        }
        statements += 1
        try connection.execute(prepared: "write_through_entity", Self.row(e, ownerEpoch: e.ownerEpoch))
    }

    /// One entity as the parameters $1…$8 of a single-row statement on `entity_states`
    /// (id, cell, kind, stats, position, version, actions, owner epoch).
    static func row(_ e: Entity, ownerEpoch: UInt64) -> [PostgresValue] {
        [
            .int64(Int64(bitPattern: e.id.raw)), .int64(e.cell.raw), .int32(Int32(e.kind.rawValue)),
            .text(JSONText.numbers(e.stats)), .text(JSONText.position(e.position)),
            .int64(Int64(bitPattern: e.version)), .int64(Int64(bitPattern: e.actions)), .int64(Int64(bitPattern: ownerEpoch)),
        ]
    }
}
