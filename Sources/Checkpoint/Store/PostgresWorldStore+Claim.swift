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
    /// The offer's source no longer holds the lease it offered under: its cells failed over, and
    /// their new owner may hold the entity. Nothing was written.
    case sourceFenced
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
    /// under `expected` (or not at all) and, for a handoff's target, the source still holds the
    /// lease it offered under (`source`).
    /// - Throws: `PQError` when the statement did not run: the outcome is then unknown.
    public func claim(_ entity: Entity, expected: UInt64, source: LeaseToken? = nil) throws -> ClaimOutcome {
        try claim(entity, expected: expected, source: source, readingRequests: false).outcome
    }

    /// `claim`, and the entity's stored request ids read in the same round trip (after the claim,
    /// in its transaction): the claimant answers retries of changes its source stored.
    public func claimReadingRequests(_ entity: Entity, expected: UInt64, source: LeaseToken? = nil) throws
        -> (outcome: ClaimOutcome, requests: [AppliedRequest]) {
        let (outcome, requests) = try claim(entity, expected: expected, source: source, readingRequests: true)
        switch outcome {
        case .won, .alreadyClaimed: return (outcome, requests)
        default: return (outcome, [])
        }
    }

    private func claim(_ entity: Entity, expected: UInt64, source: LeaseToken?, readingRequests: Bool) throws
        -> (outcome: ClaimOutcome, requests: [AppliedRequest]) {
        guard let next = Counter.next(expected) else {
            throw PQError(code: .statementFailed, message: "owner epoch \(expected) of entity \(entity.id.raw) has no successor (the largest is \(Counter.max))",
                          context: "claim")
        }
        let parameters = WriteThroughStore.row(entity, ownerEpoch: next) + [.int64(Int64(bitPattern: expected))]
        let result: QueryResult
        var requestsResult: QueryResult?
        let read = PipelinedStatement(Self.requestsFor, [
            .text(ArrayLiteral.integers([Int64(bitPattern: entity.id.raw)])),
        ])
        if lease != nil || source != nil {
            // One transaction: this worker's lease (a fenced worker cannot take an entity), the
            // source's lease (nor can a fenced source give one away), and the claim.
            var statements = lease.map { [$0.holdStatement] } ?? []
            if let source { statements.append(source.sourceHoldStatement) }
            statements.append(PipelinedStatement(Self.claimEntity, parameters))
            if readingRequests { statements.append(read) }
            let outcome = Result { () throws(PQError) in try connection.pipelinedTransaction(statements) }
            switch outcome {
            case .success(let results):
                result = results[statements.count - (readingRequests ? 2 : 1)]
                requestsResult = readingRequests ? results.last : nil
            case .failure(let error) where error.isSourceLeaseLost: return (.sourceFenced, [])
            case .failure(let error): throw error
            }
        } else if readingRequests {
            let results = try connection.pipeline([PipelinedStatement(Self.claimEntity, parameters), read])
            result = results[0]
            requestsResult = results[1]
        } else {
            result = try connection.query(Self.claimEntity, parameters)
        }
        let requests = try requestsResult.map(Self.requests) ?? []
        if result.rowCount == 1 { return (.won, requests) }
        let stored = try connection.query(
            "SELECT owner_epoch, version, cell_id FROM entity_states WHERE entity_id = $1", [.int64(Int64(bitPattern: entity.id.raw))])
        guard stored.rowCount == 1 else { return (.lost(epoch: 0), []) }
        let epoch = UInt64(bitPattern: try stored.int64(0, 0))
        if epoch == next, UInt64(bitPattern: try stored.int64(0, 1)) == entity.version, try stored.int64(0, 2) == entity.cell.raw {
            return (.alreadyClaimed, requests)
        }
        return (.lost(epoch: epoch), [])
    }
}
