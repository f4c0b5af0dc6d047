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

/// One claim: owner epoch `expected + 1` of `entity`, for a handoff's target only while `source`
/// holds the lease it offered under.
public struct EntityClaim: Sendable, Equatable {
    public let entity: Entity
    public let expected: UInt64
    public let source: LeaseToken?

    public init(_ entity: Entity, expected: UInt64, source: LeaseToken? = nil) {
        self.entity = entity
        self.expected = expected
        self.source = source
    }
}

/// A claim's outcome and, when the claimant holds the entity now (won or already claimed), the
/// entity's stored request ids: the claimant answers retries of changes its source stored.
public struct ClaimAnswer: Sendable, Equatable {
    public let outcome: ClaimOutcome
    public let requests: [AppliedRequest]
}

extension PostgresWorldStore {
    /// The two claims' common parts: the row, and the upsert that takes the epoch only from
    /// `$9` (the epoch the claimant expects storage to hold).
    private static let claimInto = """
        INSERT INTO entity_states AS s (entity_id, cell_id, kind, stats, position, version, actions, owner_epoch, updated_at)
        """
    private static let claimRow = "$1::int8, $2::int8, $3::int2, $4::jsonb, $5::jsonb, $6::int8, $7::int8, $8::int8, now()"
    private static let claimUpsert = """
        ON CONFLICT (entity_id) DO UPDATE SET
            cell_id = EXCLUDED.cell_id, kind = EXCLUDED.kind, stats = EXCLUDED.stats, position = EXCLUDED.position,
            version = EXCLUDED.version, actions = EXCLUDED.actions, owner_epoch = EXCLUDED.owner_epoch, updated_at = now()
        WHERE s.owner_epoch = $9::int8
        RETURNING entity_id
        """
    static let claimEntity = claimInto + "\nVALUES (\(claimRow))\n" + claimUpsert
    /// `claimEntity` for a handoff's target: it writes only while the source's lease row exists,
    /// and locks that row (FOR KEY SHARE) so that no revocation can delete it before the commit.
    static let claimEntityFromSource = claimInto + "\nSELECT \(claimRow)\n"
        + "WHERE EXISTS (SELECT 1 FROM worker_leases WHERE worker_id = $10::text AND generation = $11::int8 FOR KEY SHARE)\n" + claimUpsert
    /// After a claim, in its transaction: the entity's stored epoch, version and cell (one row,
    /// NULLs when storage has no row).
    static let claimedState = """
        SELECT s.owner_epoch, s.version, s.cell_id FROM (VALUES (1)) AS one (x) LEFT JOIN entity_states s ON s.entity_id = $1::int8
        """
    /// After a target's claim, in its transaction: whether the source's lease row exists. A lease
    /// row never comes back once deleted, and the claim locked it if it existed, so this tells
    /// whether the claim saw it.
    static let sourceHeld = """
        SELECT EXISTS (SELECT 1 FROM worker_leases WHERE worker_id = $1::text AND generation = $2::int8)
        """

    /// Stores `entity` as owned under epoch `expected + 1`, if and only if storage still holds it
    /// under `expected` (or not at all) and, for a handoff's target, the source still holds the
    /// lease it offered under (`source`).
    /// - Throws: `PQError` when the statement did not run: the outcome is then unknown.
    public func claim(_ entity: Entity, expected: UInt64, source: LeaseToken? = nil) throws -> ClaimOutcome {
        try claimAll([EntityClaim(entity, expected: expected, source: source)])[0].get().outcome
    }

    /// `claim`, and the entity's stored request ids read in the same round trip (after the claim,
    /// in its transaction): the claimant answers retries of changes its source stored.
    public func claimReadingRequests(_ entity: Entity, expected: UInt64, source: LeaseToken? = nil) throws -> ClaimAnswer {
        try claimAll([EntityClaim(entity, expected: expected, source: source)])[0].get()
    }

    /// Makes `claims` in one transaction and one round trip, holding this store's lease: one
    /// commit (one WAL flush) for all of them. A survivor that takes a dead worker's cells over
    /// queues a handoff claim for every entity that walks across a border meanwhile; one commit
    /// each kept its storage thread seconds behind at saturation.
    ///
    /// The claims run in entity-id order (two claims of one entity in the order given), so that
    /// two workers' groups lock rows in the same order. When the transaction fails for a reason
    /// of one claim's (a statement error, a deadlock), each claim is made again on its own; when
    /// this store lost its lease or its connection, all fail with that error.
    /// - Returns: each claim's answer, in the order given. A failure means the claim's outcome is
    ///   unknown (a connection lost at COMMIT) or nothing was written.
    public func claimAll(_ claims: [EntityClaim]) -> [Result<ClaimAnswer, PQError>] {
        var answers = [Result<ClaimAnswer, PQError>?](repeating: nil, count: claims.count)
        var order: [(index: Int, next: UInt64)] = []
        for (index, c) in claims.enumerated() {
            if let next = Counter.next(c.expected) {
                order.append((index, next))
            } else {
                answers[index] = .failure(PQError(
                    code: .statementFailed,
                    message: "owner epoch \(c.expected) of entity \(c.entity.id.raw) has no successor (the largest is \(Counter.max))",
                    context: "claim"))
            }
        }
        order.sort { (claims[$0.index].entity.id.raw, $0.index) < (claims[$1.index].entity.id.raw, $1.index) }
        guard !order.isEmpty else { return answers.map { $0! } }
        var statements = [Self.genericPlans] + (lease.map { [$0.holdStatement] } ?? [])
        for (index, next) in order { statements += Self.statements(claims[index], next: next) }
        do {
            let results = try connection.pipelinedTransaction(statements)
            var at = lease == nil ? 1 : 2
            for (index, next) in order {
                let count = claims[index].source == nil ? 3 : 4
                let mine = Array(results[at..<at + count])
                do {
                    answers[index] = .success(try Self.answer(claims[index], next: next, mine))
                } catch {
                    answers[index] = .failure(error as? PQError ?? PQError(code: .decodingFailed, message: "\(error)", context: "claim"))
                }
                at += count
            }
        } catch let error where order.count == 1 || error.isLeaseLost || !connection.isOpen {
            for (index, _) in order { answers[index] = .failure(error) }
        } catch {
            // Nothing of the group was written: each claim alone, so one cannot fail the others.
            for (index, _) in order { answers[index] = claimAll([claims[index]])[0] }
        }
        return answers.map { $0! }
    }

    /// A claim group's first statement. Every claim statement looks one row up by its key, so its
    /// generic plan is its best; left to choose, the server planned the request-id read anew for
    /// most executions (a custom plan costed below the generic one, and every autoanalyze of
    /// `applied_requests` dropped the cached plans): 5,900-8,300 plans for 13,600-14,400 claims
    /// in a 3-worker soak, even with a scalar parameter.
    static let genericPlans = PipelinedStatement("SET LOCAL plan_cache_mode = force_generic_plan")

    /// A claim's statements: the claim, the stored state after it, the stored request ids and,
    /// for a target, whether the source's lease held.
    private static func statements(_ c: EntityClaim, next: UInt64) -> [PipelinedStatement] {
        let id = Int64(bitPattern: c.entity.id.raw)
        var row = WriteThroughStore.row(c.entity, ownerEpoch: next) + [.int64(Int64(bitPattern: c.expected))]
        var result: [PipelinedStatement] = []
        if let source = c.source {
            row += [.text(source.worker), .int64(source.generation)]
            result.append(PipelinedStatement(claimEntityFromSource, row))
        } else {
            result.append(PipelinedStatement(claimEntity, row))
        }
        result.append(PipelinedStatement(claimedState, [.int64(id)]))
        result.append(PipelinedStatement(requestsForEntity, [.int64(id)]))
        if let source = c.source { result.append(PipelinedStatement(sourceHeld, [.text(source.worker), .int64(source.generation)])) }
        return result
    }

    /// A claim's answer from its statements' results (see `statements`).
    private static func answer(_ c: EntityClaim, next: UInt64, _ results: [QueryResult]) throws -> ClaimAnswer {
        let (claimed, state) = (results[0], results[1])
        if claimed.rowCount == 1 { return ClaimAnswer(outcome: .won, requests: try requests(results[2])) }
        if c.source != nil, try !results[3].bool(0, 0) { return ClaimAnswer(outcome: .sourceFenced, requests: []) }
        guard state.rowCount == 1, state.string(0, 0) != nil else { return ClaimAnswer(outcome: .lost(epoch: 0), requests: []) }
        let epoch = UInt64(bitPattern: try state.int64(0, 0))
        if epoch == next, UInt64(bitPattern: try state.int64(0, 1)) == c.entity.version, try state.int64(0, 2) == c.entity.cell.raw {
            return ClaimAnswer(outcome: .alreadyClaimed, requests: try requests(results[2]))
        }
        return ClaimAnswer(outcome: .lost(epoch: epoch), requests: [])
    }
}
