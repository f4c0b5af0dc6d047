import Postgres
import WorldCore

/// The arbiter of entity ownership: a handoff's target (or its source, giving up) takes the next
/// owner epoch of an entity in one conditional statement. Exactly one claim on an epoch wins.
public enum ClaimOutcome: Sendable, Equatable {
    /// This claim took the epoch.
    case won
    /// An earlier identical claim (a resent handoff) already took it.
    case alreadyClaimed
    /// Someone else holds the entity at `epoch` now.
    case lost(epoch: UInt64)
}

extension PostgresWorldStore {
    static let claimEntity = """
        INSERT INTO entity_states AS s (entity_id, cell_id, kind, stats, position, version, actions, owner_epoch, updated_at)
        VALUES ($1::int8, $2::int8, $3::int2, $4::jsonb, $5::jsonb, $6::int8, $7::int8, $8::int8, now())
        ON CONFLICT (entity_id) DO UPDATE SET
            cell_id = EXCLUDED.cell_id, kind = EXCLUDED.kind, stats = EXCLUDED.stats, position = EXCLUDED.position,
            version = EXCLUDED.version, actions = EXCLUDED.actions, owner_epoch = EXCLUDED.owner_epoch, updated_at = now()
        WHERE s.owner_epoch = $9::int8
        RETURNING entity_id
        """

    /// Stores `entity` as owned under epoch `expected + 1`, if and only if storage still holds it
    /// under `expected` (or not at all).
    /// - Throws: `PQError` when the statement did not run: the outcome is then unknown.
    public func claim(_ entity: Entity, expected: UInt64) throws -> ClaimOutcome {
        let next = expected + 1
        let parameters = WriteThroughStore.row(entity, ownerEpoch: next) + [.int64(Int64(bitPattern: expected))]
        let result: QueryResult
        if let lease {
            // The claim and the lease in one transaction: a fenced worker cannot take an entity.
            result = try connection.pipelinedTransaction([lease.holdStatement, PipelinedStatement(Self.claimEntity, parameters)])[1]
        } else {
            result = try connection.query(Self.claimEntity, parameters)
        }
        if result.rowCount == 1 { return .won }
        let stored = try connection.query(
            "SELECT owner_epoch, version, cell_id FROM entity_states WHERE entity_id = $1", [.int64(Int64(bitPattern: entity.id.raw))])
        guard stored.rowCount == 1 else { return .lost(epoch: 0) }
        let epoch = UInt64(bitPattern: try stored.int64(0, 0))
        if epoch == next, UInt64(bitPattern: try stored.int64(0, 1)) == entity.version, try stored.int64(0, 2) == entity.cell.raw {
            return .alreadyClaimed
        }
        return .lost(epoch: epoch)
    }
}
