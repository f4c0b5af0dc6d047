/// A `WorldStore` in memory, with switches to fail on purpose. For tests and benchmarks; the
/// same contract as the PostgreSQL store (atomic batches, stored events deleted up to a cell's
/// replayed-through mark).
public final class InMemoryWorldStore: WorldStore {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public private(set) var entities: [EntityID: Entity] = [:]
    /// Which entities each cell holds, as storage has it (the index PostgreSQL keeps on cell_id).
    private var byCell: [CellID: Set<EntityID>] = [:]
    public private(set) var cellRecords: [CellID: CellRecord] = [:]
    public private(set) var events: [CellID: [QueuedEvent]] = [:]
    /// Calls that touched storage, by kind.
    public private(set) var reads = 0
    public private(set) var writes = 0
    public private(set) var rowsWritten = 0
    /// When true, every call throws (the database is down).
    public var failing = false

    public init() {}

    public func loadCell(_ cell: CellID) throws -> CellCheckpoint {
        if failing { throw Failure(description: "store is failing") }
        reads += 1
        let record = cellRecords[cell]
        return CellCheckpoint(
            cell: cell, entities: (byCell[cell] ?? []).sorted().compactMap { entities[$0] },
            properties: record?.properties ?? [:], worldEvents: record?.worldEvents ?? [],
            events: events[cell] ?? [])
    }

    public func loadEntity(_ id: EntityID) throws -> Entity? {
        if failing { throw Failure(description: "store is failing") }
        reads += 1
        return entities[id]
    }

    @discardableResult
    public func write(_ batch: CheckpointBatch) throws -> WriteReport {
        if failing { throw Failure(description: "store is failing") }
        writes += 1
        rowsWritten += batch.rowCount
        var report = WriteReport()
        let given = Set(batch.transfers.map(\.cell))
        for entity in batch.entities {
            if !given.isEmpty, batch.optionalEntities.contains(entity.id), !(entities[entity.id].map { given.contains($0.cell) } ?? false) {
                report.leftOut.insert(entity.id)  // a release's optional row stored outside its cells
                continue
            }
            if let stored = entities[entity.id], stored.ownerEpoch > entity.ownerEpoch {
                report.fencedEntities.append(entity.id)
                continue
            }
            put(entity)
        }
        for event in batch.newEvents where !(events[event.cell]?.contains { $0.sequence == event.sequence } ?? false) {
            events[event.cell, default: []].append(event)
        }
        for record in batch.cells {
            if let stored = cellRecords[record.cell], stored.ownerEpoch > record.ownerEpoch {
                report.fencedCells.append(record.cell)
                continue
            }
            cellRecords[record.cell] = record
            let replayed = Set(record.replayedEvents)
            events[record.cell]?.removeAll { replayed.contains($0.sequence) }
        }
        return report
    }

    public func maxEventSequence() throws -> UInt64 {
        events.values.flatMap { $0 }.map(\.sequence).max() ?? 0
    }

    /// Seeds storage directly (tests).
    public func put(_ entity: Entity) {
        if let old = entities[entity.id]?.cell, old != entity.cell { byCell[old]?.remove(entity.id) }
        entities[entity.id] = entity
        byCell[entity.cell, default: []].insert(entity.id)
    }
    public func put(_ event: QueuedEvent) { events[event.cell, default: []].append(event) }
}
