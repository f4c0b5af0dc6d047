extension Shard {
    /// Takes everything unsaved as one batch, or nil when nothing is unsaved or a batch is still
    /// being written (one at a time, so batches land in order). Nothing is marked saved until
    /// `checkpointSucceeded`.
    public mutating func takeCheckpoint(now: ContinuousClock.Instant) -> CheckpointBatch? {
        guard checkpointInFlight == nil, unsavedChanges > 0 else { return nil }
        let entityRows = dirtyEntities.keys.sorted().compactMap { entities[$0] }
        let cellRows = dirtyCells.keys.sorted().compactMap { id -> CellRecord? in
            guard let cell = cells[id] else { return nil }
            return CellRecord(
                cell: id, version: cell.version, properties: cell.properties, worldEvents: cell.worldEvents,
                entityCount: cell.entities.count, replayedThrough: cell.replayedThrough)
        }
        var newEvents: [QueuedEvent] = []
        for cell in queues.keys.sorted() { newEvents.append(contentsOf: queues[cell]!.unpersisted) }
        let oldest = [dirtyEntities.values.min(), dirtyCells.values.min(), newEvents.isEmpty ? nil : firstUnpersistedAt]
            .compactMap { $0 }.min()
        let batch = CheckpointBatch(
            id: nextBatchID, entities: entityRows, cells: cellRows, newEvents: newEvents, oldestChange: oldest)
        nextBatchID += 1
        checkpointInFlight = batch.id
        cellsInFlight = Set(cellRows.map(\.cell)).union(entityRows.map(\.cell))
        return batch
    }

    /// The batch is committed: what it wrote is saved unless it changed again meanwhile.
    public mutating func checkpointSucceeded(_ batch: CheckpointBatch, duration: Duration, now: ContinuousClock.Instant) {
        guard checkpointInFlight == batch.id else { return }
        checkpointInFlight = nil
        cellsInFlight = []
        for written in batch.entities {
            guard let current = entities[written.id] else {
                dirtyEntities[written.id] = nil
                continue
            }
            if current.version == written.version { dirtyEntities[written.id] = nil }
        }
        for record in batch.cells where cells[record.cell]?.version == record.version || cells[record.cell] == nil {
            dirtyCells[record.cell] = nil
        }
        var persisted: [CellID: UInt64] = [:]
        for event in batch.newEvents { persisted[event.cell] = max(persisted[event.cell] ?? 0, event.sequence) }
        for (cell, through) in persisted {
            if queues[cell] != nil {
                let before = queues[cell]!.unpersisted.count
                queues[cell]!.persistedThrough = max(queues[cell]!.persistedThrough, through)
                unpersistedEvents -= before - queues[cell]!.unpersisted.count
            }
        }
        if unpersistedEvents == 0 { firstUnpersistedAt = nil }
        monitor.recordCheckpoint(rows: batch.rowCount, duration: duration)
        if dirtyEntities.count < settings.earlyFlushThreshold { backlogReported = false }
    }

    /// The batch did not commit: everything in it stays unsaved and goes out with the next one
    /// (with whatever newer state it has by then).
    public mutating func checkpointFailed(_ batch: CheckpointBatch) {
        guard checkpointInFlight == batch.id else { return }
        checkpointInFlight = nil
        cellsInFlight = []
        monitor.checkpointFailures &+= 1
    }

    /// The oldest unsaved change's age: what a crash now would lose at most.
    public func oldestUnsavedAge(now: ContinuousClock.Instant) -> Duration? {
        let oldest = [dirtyEntities.values.min(), dirtyCells.values.min(), unpersistedEvents > 0 ? firstUnpersistedAt : nil]
            .compactMap { $0 }.min()
        return oldest.map { now - $0 }
    }
}
