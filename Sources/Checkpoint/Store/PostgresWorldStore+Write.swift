import Postgres
import Wire
import WorldCore

extension PostgresWorldStore {
    /// Writes a batch in one transaction: entity upserts, new queued events, cell records, and
    /// the deletion of replayed events, each as array statements of `chunkSize` rows, pipelined
    /// in one round trip. If PostgreSQL refuses some row's data, the batch is written again with
    /// each chunk under a savepoint, halving failed chunks until the refused rows are isolated;
    /// those go to `dead_letters` with their error, in the same transaction as the rest.
    /// Request ids go in with a plain insert unless some may be stored already
    /// (`CheckpointBatch.requestsMayBeStored`); if one is stored all the same, the transaction
    /// is rolled back and written once more keeping the stored ids.
    /// - Throws: `PQError` when the transaction does not commit (connection lost, server down):
    ///   nothing of the batch is then stored, and the caller keeps it unsaved.
    @discardableResult
    public func write(_ batch: CheckpointBatch) throws -> WriteReport {
        guard !batch.isEmpty else { return WriteReport() }
        do {
            do {
                return try writePipelined(batch, keepingStoredRequests: batch.requestsMayBeStored)
            } catch let error as PQError where error.isUniqueViolation(of: Self.requestsPrimaryKey) {
                rollBack()
                return try writePipelined(batch, keepingStoredRequests: true)
            }
        } catch let error as PQError where error.isDataError {
            rollBack()
            do {
                return try writeIsolating(batch)
            } catch {
                rollBack()
                throw error
            }
        } catch {
            rollBack()
            throw error
        }
    }

    private func rollBack() {
        if connection.isOpen { _ = try? connection.query("ROLLBACK") }
    }

    // MARK: Statements

    private func chunks<T>(_ rows: [T]) -> [ArraySlice<T>] {
        stride(from: 0, to: rows.count, by: chunkSize).map { rows[$0..<min($0 + chunkSize, rows.count)] }
    }

    func entityStatement(_ rows: ArraySlice<Entity>) -> PipelinedStatement {
        PipelinedStatement(StoreSQL.upsertEntities, Self.entityColumns(rows))
    }

    /// An entity's stored columns, in the order of `StoreSQL.upsertEntities` (and of the benchmark's
    /// COPY): entity_id, cell_id, kind, stats, position, version, actions, owner_epoch.
    struct EntityRow {
        let entity: Entity
        init(_ e: Entity) { entity = e }

        var id: Int64 { Int64(bitPattern: entity.id.raw) }
        var cell: Int64 { entity.cell.raw }
        var kind: Int16 { Int16(entity.kind.rawValue) }
        /// The stats and position as JSON (`appendStats` / `appendPosition` write the same UTF-8 in place).
        var stats: String { JSONText.numbers(entity.stats) }
        var position: String { JSONText.position(entity.position) }
        func appendStats(to out: inout [UInt8]) { JSONText.appendNumbers(entity.stats, to: &out) }
        func appendPosition(to out: inout [UInt8]) { JSONText.appendPosition(entity.position, to: &out) }
        var version: Int64 { Int64(bitPattern: entity.version) }
        var actions: Int64 { Int64(bitPattern: entity.actions) }
        var ownerEpoch: Int64 { Int64(bitPattern: entity.ownerEpoch) }
    }

    /// The eight columns of `StoreSQL.upsertEntities` as binary arrays, built in one pass.
    public static func entityColumns(_ rows: ArraySlice<Entity>) -> [PostgresValue] {
        let n = rows.count
        var ids = BinaryArray(.int8, reservingCapacity: n * 12), cells = BinaryArray(.int8, reservingCapacity: n * 12)
        var kinds = BinaryArray(.int2, reservingCapacity: n * 6)
        var stats = BinaryArray(.jsonb, reservingCapacity: n * 32), positions = BinaryArray(.jsonb, reservingCapacity: n * 48)
        var versions = BinaryArray(.int8, reservingCapacity: n * 12), actions = BinaryArray(.int8, reservingCapacity: n * 12)
        var epochs = BinaryArray(.int8, reservingCapacity: n * 12)
        for e in rows {
            let r = EntityRow(e)
            ids.append(r.id)
            cells.append(r.cell)
            kinds.append(r.kind)
            stats.append(utf8: { r.appendStats(to: &$0) })  // the JSON written straight into the array: no string per row
            positions.append(utf8: { r.appendPosition(to: &$0) })
            versions.append(r.version)
            actions.append(r.actions)
            epochs.append(r.ownerEpoch)
        }
        return [.array(ids), .array(cells), .array(kinds), .array(stats), .array(positions), .array(versions), .array(actions), .array(epochs)]
    }

    /// An entity as a binary COPY row of the same columns (the benchmark's raw limit uses it).
    public static func appendCopyRow(_ e: Entity, to encoder: inout BinaryCopyEncoder) {
        let r = EntityRow(e)
        encoder.beginRow(fields: 8)
        encoder.append(r.id)
        encoder.append(r.cell)
        encoder.append(r.kind)
        encoder.append(jsonb: r.stats)
        encoder.append(jsonb: r.position)
        encoder.append(r.version)
        encoder.append(r.actions)
        encoder.append(r.ownerEpoch)
    }

    func eventStatement(_ rows: ArraySlice<QueuedEvent>, epoch: UInt64) -> PipelinedStatement {
        let payloads = rows.map { queued -> String in
            let bytes: [UInt8] = (try? Cellcluster_V1_Event(queued).serializedBytes()) ?? []
            return Bytea.hex(bytes)
        }
        return PipelinedStatement(StoreSQL.insertEvents, [
            .text(ArrayLiteral.integers(rows.map(\.cell.raw))),
            .text(ArrayLiteral.integers(rows.map { Int64(bitPattern: $0.sequence) })),
            .text(ArrayLiteral.integers(rows.map { Int16($0.event.kind.rawValue) })),
            .text(ArrayLiteral.texts(payloads)),
            .int64(Int64(bitPattern: epoch)),
        ])
    }

    func cellStatement(_ rows: ArraySlice<CellRecord>) -> PipelinedStatement {
        PipelinedStatement(StoreSQL.upsertCells, [
            .text(ArrayLiteral.integers(rows.map(\.cell.raw))),
            .text(ArrayLiteral.integers(rows.map { Int32(clamping: $0.entityCount) })),
            .text(ArrayLiteral.texts(rows.map { JSONText.strings($0.properties) })),
            .text(ArrayLiteral.texts(rows.map { JSONText.worldEvents($0.worldEvents) })),
            .text(ArrayLiteral.integers(rows.map { Int64(bitPattern: $0.ownerEpoch) })),
        ])
    }

    func deleteStatement(_ cells: [CellRecord], epoch: UInt64) -> PipelinedStatement? {
        let pairs = cells.flatMap { record in record.replayedEvents.map { (record.cell.raw, Int64(bitPattern: $0)) } }
        guard !pairs.isEmpty else { return nil }
        return PipelinedStatement(StoreSQL.deleteReplayed, [
            .text(ArrayLiteral.integers(pairs.map(\.0))), .text(ArrayLiteral.integers(pairs.map(\.1))),
            .int64(Int64(bitPattern: epoch)),
        ])
    }

    /// For a release with optional entities: the read of those stored in the cells it gives away.
    static func storedInGivenCells(_ batch: CheckpointBatch) -> PipelinedStatement? {
        guard !batch.transfers.isEmpty, !batch.optionalEntities.isEmpty else { return nil }
        return PipelinedStatement(StoreSQL.storedInCells, [
            .text(ArrayLiteral.integers(batch.optionalEntities.map { Int64(bitPattern: $0.raw) })),
            .text(ArrayLiteral.integers(batch.transfers.map(\.cell.raw))),
        ])
    }

    /// The release without the optional entities whose stored rows (`storedThere`, the result of
    /// `storedInGivenCells`) name none of its cells; and those left out.
    static func narrowed(_ batch: CheckpointBatch, storedThere: QueryResult) throws -> (CheckpointBatch, leftOut: Set<EntityID>) {
        var needed = Set<EntityID>()
        for row in 0..<storedThere.rowCount { needed.insert(EntityID(UInt64(bitPattern: try storedThere.int64(row, 0)))) }
        let leftOut = batch.optionalEntities.subtracting(needed)
        return (batch.keepingEntities { !leftOut.contains($0.id) }, leftOut)
    }

    /// Cells this batch gives away: their new owners, under the batch's epoch.
    func transferStatement(_ batch: CheckpointBatch) -> PipelinedStatement {
        CellOwnership.assign(batch.transfers.map { ($0.cell, $0.to) }, epoch: batch.epoch)
    }

    // MARK: The fast path

    private func writePipelined(_ whole: CheckpointBatch, keepingStoredRequests: Bool) throws -> WriteReport {
        var opening = [PipelinedStatement("BEGIN")]
        if let lease { opening.append(lease.holdStatement) }
        var batch = whole, leftOut = Set<EntityID>(), sentBefore = 0
        if let read = Self.storedInGivenCells(whole) {
            // A release: which optional rows go along is read in its transaction first, in a
            // round trip of its own (the transaction stays open across it).
            let results = try connection.pipeline(opening + [read])
            (batch, leftOut) = try Self.narrowed(whole, storedThere: results[results.count - 1])
            sentBefore = opening.count + 1
            opening = []
        }
        let entityStatements = chunks(batch.entities).map(entityStatement)
        let eventStatements = chunks(batch.newEvents).map { eventStatement($0, epoch: batch.epoch) }
        let cellStatements = chunks(batch.cells).map(cellStatement)
        var statements = opening
        let first = statements.count  // the first entity statement
        statements += entityStatements + eventStatements + cellStatements
        if let delete = deleteStatement(batch.cells, epoch: batch.epoch) { statements.append(delete) }
        if !batch.transfers.isEmpty { statements.append(transferStatement(batch)) }
        if let requests = Self.requestStatement(batch.requests, keepingStored: keepingStoredRequests) {
            statements.append(requests)  // after the rows they check
        }
        statements.append(PipelinedStatement("COMMIT"))

        let results = try connection.pipeline(statements)
        guard results.count == statements.count, results.last?.commandTag == "COMMIT" else {
            throw PQError(code: .statementFailed, message: "the checkpoint transaction did not commit", context: "COMMIT")
        }
        let entityChunks = chunks(batch.entities)
        var unsure: [Entity] = []  // rows the upserts did not write
        for (chunk, r) in zip(entityChunks, results[first..<(first + entityStatements.count)]) {
            unsure += try Self.notWritten(chunk, r)
        }
        let eventResults = results[(first + entityStatements.count)...].prefix(eventStatements.count)
        let cellResults = results[(first + entityStatements.count + eventStatements.count)...].prefix(cellStatements.count)
        var writtenCells = Set<Int64>()
        for r in cellResults { for row in 0..<r.rowCount { writtenCells.insert(try r.int64(row, 0)) } }

        var report = WriteReport()
        report.leftOut = leftOut
        for r in eventResults { try Self.noteFencedEvents(r, in: &report) }
        report.statements = statements.count + sentBefore
        try fill(&report, batch: batch, unsure: unsure, writtenCells: writtenCells)
        return report
    }

    /// The rows of `chunk` its upsert did not write (its result rows name them).
    static func notWritten(_ chunk: ArraySlice<Entity>, _ result: QueryResult) throws -> [Entity] {
        guard result.rowCount > 0 else { return [] }
        var ids = Set<UInt64>(minimumCapacity: result.rowCount)
        for row in 0..<result.rowCount { ids.insert(UInt64(bitPattern: try result.int64(row, 0))) }
        return chunk.filter { ids.contains($0.id.raw) }
    }

    /// The events an insert left out because a newer owner holds their cell (its result rows).
    static func noteFencedEvents(_ result: QueryResult, in report: inout WriteReport) throws {
        for row in 0..<result.rowCount {
            report.fencedEvents[CellID(try result.int64(row, 0)), default: []].insert(UInt64(bitPattern: try result.int64(row, 1)))
        }
    }

    /// Rows the upserts skipped are fenced when storage holds them under a newer epoch.
    /// - Parameter unsure: entities the upserts did not write.
    func fill(_ report: inout WriteReport, batch: CheckpointBatch, unsure: [Entity], writtenCells: Set<Int64>,
              skipCells: Set<Int64> = []) throws {
        let missing = unsure
        if !missing.isEmpty {
            let sent = Dictionary(uniqueKeysWithValues: missing.map { ($0.id.raw, $0.ownerEpoch) })
            let stored = try connection.query(
                StoreSQL.storedEpochs, [.text(ArrayLiteral.integers(missing.map { Int64(bitPattern: $0.id.raw) }))])
            for row in 0..<stored.rowCount {
                let id = UInt64(bitPattern: try stored.int64(row, 0))
                if UInt64(bitPattern: try stored.int64(row, 1)) > sent[id] ?? 0 { report.fencedEntities.append(EntityID(id)) }
            }
        }
        let missingCells = batch.cells.filter { !writtenCells.contains($0.cell.raw) && !skipCells.contains($0.cell.raw) }
        if !missingCells.isEmpty { report.fencedCells = missingCells.map(\.cell) }
    }

    // MARK: The careful path

    private func writeIsolating(_ whole: CheckpointBatch) throws -> WriteReport {
        var report = WriteReport()
        var unsure: [Entity] = [], writtenCells = Set<Int64>()
        var poisonedEntities: [(Entity, PQError)] = []
        var poisonedEvents: [(QueuedEvent, PQError)] = []
        var poisonedCells: [(CellRecord, PQError)] = []
        try connection.query("BEGIN")
        if let lease { try connection.query(lease.holdStatement.sql, lease.holdStatement.parameters) }
        var batch = whole
        if let read = Self.storedInGivenCells(whole) {
            (batch, report.leftOut) = try Self.narrowed(whole, storedThere: try connection.query(read.sql, read.parameters))
            report.statements += 1
        }
        for chunk in chunks(batch.entities) {
            try isolate(chunk, entityStatement, &report, &poisonedEntities) { rows, r in
                unsure += try Self.notWritten(rows, r)
            }
        }
        var eventResults: [QueryResult] = []
        for chunk in chunks(batch.newEvents) {
            try isolate(chunk, { self.eventStatement($0, epoch: batch.epoch) }, &report, &poisonedEvents) { _, r in eventResults.append(r) }
        }
        for r in eventResults { try Self.noteFencedEvents(r, in: &report) }
        for chunk in chunks(batch.cells) {
            try isolate(chunk, cellStatement, &report, &poisonedCells) { _, r in
                for row in 0..<r.rowCount { writtenCells.insert(try r.int64(row, 0)) }
            }
        }
        if let delete = deleteStatement(batch.cells.filter { writtenCells.contains($0.cell.raw) }, epoch: batch.epoch) {
            try connection.query(delete.sql, delete.parameters)
            report.statements += 1
        }
        if !batch.transfers.isEmpty {
            let transfer = transferStatement(batch)
            try connection.query(transfer.sql, transfer.parameters)
            report.statements += 1
        }
        if let requests = Self.requestStatement(batch.requests, keepingStored: true) {
            try connection.query(requests.sql, requests.parameters)
            report.statements += 1
        }
        for (entity, error) in poisonedEntities {
            try deadLetter("entity", entity: entity.id, cell: entity.cell, payload: Self.describe(entity), error)
            report.deadLetteredEntities.append(entity.id)
        }
        for (event, error) in poisonedEvents {
            try deadLetter("event", entity: nil, cell: event.cell, payload: "{\"sequence\":\(event.sequence)}", error)
        }
        for (record, error) in poisonedCells {
            try deadLetter("cell", entity: nil, cell: record.cell, payload: JSONText.strings(record.properties), error)
            report.deadLetteredCells.append(record.cell)
        }
        let commit = try connection.query("COMMIT")
        guard commit.commandTag == "COMMIT" else {
            throw PQError(code: .statementFailed, message: "the checkpoint transaction did not commit", context: "COMMIT")
        }
        report.statements += 2
        let dead = Set(report.deadLetteredEntities)
        try fill(&report, batch: batch, unsure: unsure.filter { !dead.contains($0.id) }, writtenCells: writtenCells,
                 skipCells: Set(report.deadLetteredCells.map(\.raw)))
        return report
    }

    /// Runs a chunk under a savepoint; on a data error, halves it until the refused rows stand alone.
    private func isolate<Row>(
        _ rows: ArraySlice<Row>, _ statement: (ArraySlice<Row>) -> PipelinedStatement, _ report: inout WriteReport,
        _ poisoned: inout [(Row, PQError)], onSuccess: (ArraySlice<Row>, QueryResult) throws -> Void
    ) throws {
        guard !rows.isEmpty else { return }
        try connection.query("SAVEPOINT chunk")
        let s = statement(rows)
        report.statements += 2
        do {
            let result = try connection.query(s.sql, s.parameters)
            try connection.query("RELEASE SAVEPOINT chunk")
            try onSuccess(rows, result)
        } catch let error as PQError where error.isDataError {
            try connection.query("ROLLBACK TO SAVEPOINT chunk")
            try connection.query("RELEASE SAVEPOINT chunk")
            if rows.count == 1 {
                poisoned.append((rows.first!, error))
                return
            }
            let middle = rows.startIndex + rows.count / 2
            try isolate(rows[..<middle], statement, &report, &poisoned, onSuccess: onSuccess)
            try isolate(rows[middle...], statement, &report, &poisoned, onSuccess: onSuccess)
        }
    }

    private func deadLetter(_ kind: String, entity: EntityID?, cell: CellID, payload: String, _ error: PQError) throws {
        try connection.query(StoreSQL.insertDeadLetter, [
            .text(kind), entity.map { .int64(Int64(bitPattern: $0.raw)) } ?? .null, .int64(cell.raw), .text(payload),
            error.sqlState.map { .text($0) } ?? .null, .text(error.message),
        ])
    }

    static func describe(_ e: Entity) -> String {
        "{\"entity_id\":\(e.id.raw),\"cell_id\":\(e.cell.raw),\"kind\":\(e.kind.rawValue),\"version\":\(e.version),"
            + "\"stats\":\(JSONText.numbers(e.stats)),\"position\":\(JSONText.position(e.position))}"
    }
}
