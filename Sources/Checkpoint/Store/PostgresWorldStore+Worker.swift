import Postgres
import Wire
import WorldCore

extension PostgresWorldStore: WorkerStorage {
    static let entitiesInCells = """
        SELECT entity_id, kind, stats, position, version, actions, owner_epoch, cell_id
        FROM entity_states WHERE cell_id = ANY($1::int8[]) ORDER BY cell_id, entity_id
        """
    static let cellRecords = "SELECT cell_id, properties, world_events FROM cell_checkpoints WHERE cell_id = ANY($1::int8[])"
    static let eventsInCells = """
        SELECT cell_id, sequence, payload FROM deferred_events WHERE cell_id = ANY($1::int8[]) ORDER BY cell_id, sequence
        """
    static let entitiesByID = """
        SELECT entity_id, kind, stats, position, version, actions, owner_epoch, cell_id FROM entity_states WHERE entity_id = ANY($1::int8[])
        """
    static let ownershipOf = "SELECT cell_id, worker_id, epoch FROM cell_ownership WHERE cell_id = ANY($1::int8[])"
    static let ownershipNaming = "SELECT cell_id, worker_id, epoch FROM cell_ownership WHERE worker_id = $1"
    static let maxSequenceOwned = """
        SELECT coalesce(max(d.sequence), 0) FROM deferred_events d JOIN cell_ownership o ON o.cell_id = d.cell_id
        WHERE o.cell_id = ANY($1::int8[]) AND o.worker_id = $2
        """
    static let playersOwned = """
        SELECT DISTINCT s.cell_id FROM entity_states s JOIN cell_ownership o ON o.cell_id = s.cell_id
        WHERE o.cell_id = ANY($1::int8[]) AND o.worker_id = $2 AND s.kind = $3::int2 ORDER BY s.cell_id
        """
    static let deleteLease = "DELETE FROM worker_leases WHERE worker_id = $1 AND generation = $2::int8"

    public var isUsable: Bool { connection.isOpen }

    public func loadCells(_ cells: [CellID]) throws -> [CellCheckpoint] {
        guard !cells.isEmpty else { return [] }
        let list = PostgresValue.text(ArrayLiteral.integers(cells.map(\.raw)))
        let results = try connection.pipeline([
            PipelinedStatement(Self.entitiesInCells, [list]),
            PipelinedStatement(Self.cellRecords, [list]),
            PipelinedStatement(Self.eventsInCells, [list]),
            PipelinedStatement(Self.requestsAboutCells, [list]),
        ])
        var entities: [CellID: [Entity]] = [:]
        for row in 0..<results[0].rowCount {
            let cell = CellID(try results[0].int64(row, 7))
            entities[cell, default: []].append(try Self.entity(results[0], row, cell: cell))
        }
        var records: [CellID: (properties: String?, worldEvents: String?)] = [:]
        for row in 0..<results[1].rowCount {
            records[CellID(try results[1].int64(row, 0))] = (results[1].string(row, 1), results[1].string(row, 2))
        }
        var events: [CellID: [QueuedEvent]] = [:]
        for row in 0..<results[2].rowCount {
            let cell = CellID(try results[2].int64(row, 0))
            guard let sequence = Counter.stored(try results[2].int64(row, 1)), let bytes = results[2].bytea(row, 2),
                let decoded = try? Cellcluster_V1_Event(serializedBytes: bytes),
                let event = try? decoded.queuedEvent(cell: cell)
            else { continue }  // does not decode (or a negative sequence): skipped, left in the table for inspection
            events[cell, default: []].append(QueuedEvent(sequence: sequence, cell: cell, event: event.event))
        }
        // Only those about the cells: an entity's are checked by key when a change to it may be a retry.
        let requests = Dictionary(grouping: try Self.requests(results[3]), by: \.cell)
        return cells.map { cell in
            let record = records[cell]
            return CellCheckpoint(
                cell: cell, entities: entities[cell] ?? [],
                properties: record.map { JSONText.readStrings($0.properties) } ?? [:],
                worldEvents: record.map { JSONText.readWorldEvents($0.worldEvents) } ?? [],
                events: events[cell] ?? [], requests: requests[cell] ?? [])
        }
    }

    public func loadEntities(_ ids: [EntityID]) throws -> [Entity] {
        guard !ids.isEmpty else { return [] }
        let result = try connection.query(Self.entitiesByID, [.text(ArrayLiteral.integers(ids.map { Int64(bitPattern: $0.raw) }))])
        return try (0..<result.rowCount).map { row in try Self.entity(result, row, cell: CellID(try result.int64(row, 7))) }
    }

    public func claims(_ claims: [EntityClaim], lease: LeaseToken?) -> [Result<ClaimAnswer, PQError>] {
        self.lease = lease
        return claimAll(claims)
    }

    public func readOwnership(_ cells: [CellID], for worker: String) throws -> OwnershipReading {
        guard !cells.isEmpty else { return OwnershipReading(rows: [], maxSequence: 0, cellsWithPlayers: []) }
        let list = PostgresValue.text(ArrayLiteral.integers(cells.map(\.raw)))
        let results = try connection.pipeline([
            PipelinedStatement(Self.ownershipOf, [list]),
            PipelinedStatement(Self.maxSequenceOwned, [list, .text(worker)]),
            PipelinedStatement(Self.playersOwned, [list, .text(worker), .int64(Int64(EntityKind.player.rawValue))]),
        ])
        return OwnershipReading(
            rows: try Self.ownershipRows(results[0]),
            maxSequence: Counter.stored(try results[1].int64(0, 0)) ?? 0,
            cellsWithPlayers: try (0..<results[2].rowCount).map { CellID(try results[2].int64($0, 0)) })
    }

    public func cellsNamed(for worker: String) throws -> [OwnershipRow] {
        try Self.ownershipRows(try connection.query(Self.ownershipNaming, [.text(worker)]))
    }

    public func assignCells(_ owners: [CellTransfer], epoch: UInt64, lease: LeaseToken?) throws {
        guard !owners.isEmpty else { return }
        let hold = lease.map { [$0.holdStatement] } ?? []
        _ = try connection.pipelinedTransaction(hold + [CellOwnership.assign(owners.map { ($0.cell, $0.to) }, epoch: epoch)])
    }

    public func returnLease(_ token: LeaseToken) throws {
        _ = try connection.query(Self.deleteLease, [.text(token.worker), .int64(token.generation)])
    }

    static func ownershipRows(_ r: QueryResult) throws -> [OwnershipRow] {
        try (0..<r.rowCount).compactMap { row in
            guard let worker = r.string(row, 1) else { return nil }
            return OwnershipRow(cell: CellID(try r.int64(row, 0)), worker: worker, epoch: UInt64(bitPattern: try r.int64(row, 2)))
        }
    }
}
