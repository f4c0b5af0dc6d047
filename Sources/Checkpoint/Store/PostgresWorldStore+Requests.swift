import Postgres
import WorldCore

/// A spawn, reserved in storage before it is answered: its row is inserted unless the id is
/// stored already, with the spawn's request id, in one transaction. Storage decides whether
/// an id exists, wherever its entity is held.
public struct SpawnReservation: Sendable, Equatable {
    public let entity: Entity
    public let request: AppliedRequest

    public init(entity: Entity, request: AppliedRequest) {
        self.entity = entity
        self.request = request
    }
}

/// What storage said about reserved spawns.
public struct ReserveOutcome: Sendable, Equatable {
    /// The ids whose rows this call inserted: these spawns happened.
    public var inserted: Set<EntityID>
    /// For spawns not inserted, the stored requests with their (sender, request id): retries of
    /// a spawn that happened, answered with its first reply.
    public var retried: [AppliedRequest]

    public init(inserted: Set<EntityID>, retried: [AppliedRequest]) {
        self.inserted = inserted
        self.retried = retried
    }
}

extension PostgresWorldStore {
    /// Request ids of durable changes, stored only where the change is (see `AppliedRequest.condition`).
    /// A plain insert: a batch's own request ids are new, and `ON CONFLICT DO NOTHING` cost every
    /// row a speculative insertion and its confirmation, one WAL record in four (pgbench, 125-row
    /// batches into 300,000 rows: 1.27 x the rows a second without it). A batch that carries ids
    /// of earlier writes (`CheckpointBatch.requestsMayBeStored`) uses `insertRequestsOnce`, and so
    /// does a write again whose plain insert met a stored id all the same.
    static let insertRequests = """
        INSERT INTO applied_requests (sender, request_id, entity_id, cell_id, reply)
        SELECT r.sender, r.request_id, CASE WHEN r.has_entity THEN r.entity_id END, r.cell_id, r.reply
        FROM unnest($1::bytea[], $2::int8[], $3::bool[], $4::int8[], $5::int8[], $6::int2[], $7::int8[], $8::int8[], $9::bytea[])
             AS r(sender, request_id, has_entity, entity_id, cell_id, kind, a, b, reply)
        WHERE CASE r.kind
            WHEN 1 THEN EXISTS (SELECT 1 FROM entity_states s
                                WHERE s.entity_id = r.entity_id AND s.version >= r.a AND s.owner_epoch >= r.b)
            WHEN 2 THEN NOT EXISTS (SELECT 1 FROM cell_checkpoints c WHERE c.cell_id = r.cell_id AND c.owner_epoch > r.a)
            WHEN 3 THEN EXISTS (SELECT 1 FROM deferred_events d WHERE d.cell_id = r.cell_id AND d.sequence = r.a)
            ELSE true END
        """
    /// The same, keeping a stored id where one exists (`requestsPrimaryKey`).
    static let insertRequestsOnce = insertRequests + "\nON CONFLICT (sender, request_id) DO NOTHING"
    /// The stored requests about the cells themselves (changes to a cell, not to an entity): a
    /// cell's load brings them. Those about its entities are not read with it: a worker checks
    /// a durable change to an entity it took from storage by its key (`requestsByKeys`).
    static let requestsAboutCells = """
        SELECT sender, request_id, entity_id, cell_id, reply FROM applied_requests
        WHERE entity_id IS NULL AND cell_id = ANY($1::int8[])
        """
    /// Stored requests by (sender, request id), from binary arrays: one primary-key probe each.
    static let requestsByKeys = """
        SELECT a.sender, a.request_id, a.entity_id, a.cell_id, a.reply
        FROM unnest($1::bytea[], $2::int8[]) AS k(sender, request_id)
        JOIN applied_requests a ON a.sender = k.sender AND a.request_id = k.request_id
        """
    /// The stored requests about one entity: a handoff's claim reads them for its entity. With
    /// a scalar parameter, so that its generic plan (which claims force: `genericPlans`) is the
    /// index lookup a custom plan makes. With an array the server planned every execution anew
    /// (pg_stat_statements in a 10,000-player soak with 3 workers: 13,323 plans for 13,322
    /// calls, planning 0.48 x the execution time).
    static let requestsForEntity = """
        SELECT sender, request_id, entity_id, cell_id, reply FROM applied_requests WHERE entity_id = $1::int8
        """
    /// New entities, unless their ids are stored; with their spawns' request ids. Returns the
    /// ids it inserted.
    static let reserveSpawns = """
        WITH t AS (
            SELECT * FROM unnest($1::int8[], $2::int8[], $3::int2[], $4::jsonb[], $5::jsonb[], $6::int8[], $7::text[], $8::int8[], $9::text[])
                AS t(id, cell, kind, stats, position, epoch, sender, request_id, reply)
        ), inserted AS (
            INSERT INTO entity_states (entity_id, cell_id, kind, stats, position, version, actions, owner_epoch)
            SELECT t.id, t.cell, t.kind, t.stats, t.position, 1, 0, t.epoch FROM t
            ON CONFLICT (entity_id) DO NOTHING
            RETURNING entity_id
        ), requests AS (
            INSERT INTO applied_requests (sender, request_id, entity_id, cell_id, reply)
            SELECT decode(t.sender, 'hex'), t.request_id, t.id, t.cell, decode(t.reply, 'hex')
            FROM t JOIN inserted i ON i.entity_id = t.id
            ON CONFLICT (sender, request_id) DO NOTHING
        )
        SELECT entity_id FROM inserted
        """
    /// Stored requests by (sender, request id).
    static let requestsByKey = """
        SELECT a.sender, a.request_id, a.entity_id, a.cell_id, a.reply FROM applied_requests a
        JOIN unnest($1::text[], $2::int8[]) AS k(sender, request_id)
          ON a.sender = decode(k.sender, 'hex') AND a.request_id = k.request_id
        """
    static let deleteExpiredRequests = """
        DELETE FROM applied_requests WHERE ctid = ANY(ARRAY(
            SELECT ctid FROM applied_requests WHERE applied_at < now() - make_interval(secs => $1::float8) LIMIT $2::int8))
        """

    /// The unique index of `applied_requests` whose violation sends a write down the path that
    /// keeps stored ids (`insertRequestsOnce`).
    static let requestsPrimaryKey = "applied_requests_pkey"

    /// The statement that stores a batch's request ids (nil when it has none); `keepingStored`:
    /// ids stored already are left as they are, not refused.
    static func requestStatement(_ requests: [AppliedRequest], keepingStored: Bool) -> PipelinedStatement? {
        guard !requests.isEmpty else { return nil }
        // Binary arrays: no hex text, number formatting or array literal parsing on either side;
        // built in one pass with concrete appends (the generic builders are not specialised
        // across modules: a witness call per element, 2 % of a soak worker's time).
        let n = requests.count
        var senders = BinaryArray(.bytea, reservingCapacity: n * 40), ids = BinaryArray(.int8, reservingCapacity: n * 12)
        var hasEntity = BinaryArray(.bool, reservingCapacity: n * 5), entities = BinaryArray(.int8, reservingCapacity: n * 12)
        var cells = BinaryArray(.int8, reservingCapacity: n * 12), kinds = BinaryArray(.int2, reservingCapacity: n * 6)
        var firsts = BinaryArray(.int8, reservingCapacity: n * 12), seconds = BinaryArray(.int8, reservingCapacity: n * 12)
        var replies = BinaryArray(.bytea, reservingCapacity: n * 40)
        for r in requests {
            let condition = Self.condition(r.condition)
            senders.append(bytes: r.sender)
            ids.append(Int64(bitPattern: r.requestID))
            hasEntity.append(r.entity != nil)
            entities.append(Int64(bitPattern: r.entity?.raw ?? 0))
            cells.append(r.cell.raw)
            kinds.append(condition.kind)
            firsts.append(condition.a)
            seconds.append(condition.b)
            replies.append(bytes: r.reply)
        }
        return PipelinedStatement(keepingStored ? Self.insertRequestsOnce : Self.insertRequests, [
            .array(senders), .array(ids), .array(hasEntity), .array(entities), .array(cells), .array(kinds), .array(firsts),
            .array(seconds), .array(replies),
        ])
    }

    /// A condition as the statement's (kind, a, b) columns.
    static func condition(_ c: AppliedRequest.Condition?) -> (kind: Int16, a: Int64, b: Int64) {
        switch c {
        case nil: (0, 0, 0)
        case .entity(let version, let epoch)?: (1, Int64(bitPattern: version), Int64(bitPattern: epoch))
        case .cell(let epoch)?: (2, Int64(bitPattern: epoch), 0)
        case .queued(let sequence)?: (3, Int64(bitPattern: sequence), 0)
        }
    }

    /// The stored requests of these keys (those storage does not hold are not answered).
    public func storedRequests(keys: [RequestKey]) throws -> [AppliedRequest] {
        guard !keys.isEmpty else { return [] }
        var senders = BinaryArray(.bytea, reservingCapacity: keys.count * 40), ids = BinaryArray(.int8, reservingCapacity: keys.count * 12)
        for key in keys {
            senders.append(bytes: key.sender)
            ids.append(Int64(bitPattern: key.requestID))
        }
        return try Self.requests(try connection.query(Self.requestsByKeys, [.array(senders), .array(ids)]))
    }

    /// Inserts the rows of new entities whose ids are not stored, with their spawns' request
    /// ids, holding `lease`; and reads the stored requests of the spawns that were not inserted.
    public func reserve(_ spawns: [SpawnReservation], lease: LeaseToken?) throws -> ReserveOutcome {
        guard !spawns.isEmpty else { return ReserveOutcome(inserted: [], retried: []) }
        var statements = lease.map { [$0.holdStatement] } ?? []
        statements.append(PipelinedStatement(Self.reserveSpawns, [
            .text(ArrayLiteral.integers(spawns.map { Int64(bitPattern: $0.entity.id.raw) })),
            .text(ArrayLiteral.integers(spawns.map(\.entity.cell.raw))),
            .text(ArrayLiteral.integers(spawns.map { Int16($0.entity.kind.rawValue) })),
            .text(ArrayLiteral.texts(spawns.map { JSONText.numbers($0.entity.stats) })),
            .text(ArrayLiteral.texts(spawns.map { JSONText.position($0.entity.position) })),
            .text(ArrayLiteral.integers(spawns.map { Int64(bitPattern: $0.entity.ownerEpoch) })),
            .text(ArrayLiteral.texts(spawns.map { Bytea.hex($0.request.sender) })),
            .text(ArrayLiteral.integers(spawns.map { Int64(bitPattern: $0.request.requestID) })),
            .text(ArrayLiteral.texts(spawns.map { Bytea.hex($0.request.reply) })),
        ]))
        statements.append(PipelinedStatement(Self.requestsByKey, [
            .text(ArrayLiteral.texts(spawns.map { Bytea.hex($0.request.sender) })),
            .text(ArrayLiteral.integers(spawns.map { Int64(bitPattern: $0.request.requestID) })),
        ]))
        let results = try connection.pipelinedTransaction(statements)
        let insertedRows = results[results.count - 2]
        var inserted = Set<EntityID>()
        for row in 0..<insertedRows.rowCount { inserted.insert(EntityID(UInt64(bitPattern: try insertedRows.int64(row, 0)))) }
        // A retry is the same request (sender and id) about the same entity.
        let asked = Dictionary(spawns.map { ($0.request.sender + Array("#\($0.request.requestID)".utf8), $0.entity.id) },
                               uniquingKeysWith: { first, _ in first })
        let retried = try Self.requests(results[results.count - 1]).filter { request in
            guard let entity = request.entity, !inserted.contains(entity) else { return false }
            return asked[request.sender + Array("#\(request.requestID)".utf8)] == entity
        }
        return ReserveOutcome(inserted: inserted, retried: retried)
    }

    /// Deletes up to `limit` stored request ids older than `seconds` (call again while it deletes `limit`).
    /// - Returns: how many it deleted.
    @discardableResult
    public func deleteExpiredRequests(olderThanSeconds seconds: Double, limit: Int = 10_000) throws -> Int {
        try connection.query(Self.deleteExpiredRequests, [.double(seconds), .int64(Int64(limit))]).affectedRows
    }

    static func requests(_ result: QueryResult) throws -> [AppliedRequest] {
        try (0..<result.rowCount).map { row in
            let entity = result.string(row, 2) == nil ? nil : EntityID(UInt64(bitPattern: try result.int64(row, 2)))
            return AppliedRequest(
                sender: result.bytea(row, 0) ?? [], requestID: UInt64(bitPattern: try result.int64(row, 1)), entity: entity,
                cell: CellID(try result.int64(row, 3)), condition: nil, reply: result.bytea(row, 4) ?? [])
        }
    }
}
