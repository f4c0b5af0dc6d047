extension Shard {
    /// Takes what is unsaved as one batch, or nil when nothing is unsaved or a batch is still
    /// being written (one at a time, so batches land in order): every unsaved cell and queued
    /// event, and the unsaved entities up to `maxRows` (default: `settings.checkpointMaxRows`),
    /// the longest unsaved first. Nothing is marked saved until `checkpointSucceeded`.
    public mutating func takeCheckpoint(now: ContinuousClock.Instant, maxRows: Int? = nil) -> CheckpointBatch? {
        guard checkpointInFlight == nil, unsavedChanges > 0 else { return nil }
        let entityIDs = entitiesForCheckpoint(limit: min(maxRows ?? .max, settings.checkpointMaxRows))
        let entityRows = entityIDs.compactMap { entities[$0] }
        let cellRows = dirtyCells.keys.sorted().compactMap { id -> CellRecord? in
            guard let cell = cells[id] else { return nil }
            return CellRecord(
                cell: id, version: cell.version, properties: cell.properties, worldEvents: cell.worldEvents,
                entityCount: cell.entities.count, replayedEvents: cell.replayedPending, ownerEpoch: epoch)
        }
        var newEvents: [QueuedEvent] = []
        for cell in queues.keys.sorted() { newEvents.append(contentsOf: queues[cell]!.unpersisted) }
        let dirty = dirtyEntities
        let oldest = [entityIDs.lazy.compactMap { dirty[$0] }.min(), dirtyCells.values.min(),
                      newEvents.isEmpty ? nil : firstUnpersistedAt]
            .compactMap { $0 }.min()
        let batch = CheckpointBatch(
            id: nextBatchID, epoch: epoch, entities: entityRows, cells: cellRows, newEvents: newEvents, oldestChange: oldest, takenAt: now)
        nextBatchID += 1
        checkpointInFlight = batch.id
        cellsInFlight = Set(cellRows.map(\.cell)).union(entityRows.map(\.cell))
        return batch
    }

    /// The unsaved entities the next checkpoint writes, in id order: all of them, or past
    /// `limit` those unsaved the longest. Entities that replayed queued events changed always go
    /// along: the batch deletes those events from storage (with their cells' records), and a
    /// deletion must not commit without what the events did.
    func entitiesForCheckpoint(limit: Int) -> [EntityID] {
        guard dirtyEntities.count > limit else { return dirtyEntities.keys.sorted() }
        var chosen = Set<EntityID>()
        for cell in unsavedReplays {
            guard let record = cells[cell], !record.replayedPending.isEmpty else { continue }
            for id in record.replayedEntities where dirtyEntities[id] != nil { chosen.insert(id) }
        }
        if chosen.count < limit {
            // Built in one pass (a dictionary's `filter` builds a second dictionary, every id
            // hashed again) and ordered by whole nanoseconds from any one of the changes (signed;
            // a clock's instants are whole nanoseconds apart), not by `Instant`s' 128-bit
            // arithmetic: 1.9 % of a 3-worker soak's worker went to this sort.
            let origin = dirtyEntities.first?.value ?? .now
            var byAge: [(since: Int64, id: EntityID)] = []
            byAge.reserveCapacity(dirtyEntities.count)
            for (id, since) in dirtyEntities where !chosen.contains(id) {
                let (seconds, attoseconds) = (since - origin).components
                byAge.append((seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000, id))
            }
            byAge.sort { $0.since != $1.since ? $0.since < $1.since : $0.id < $1.id }
            for row in byAge.prefix(limit - chosen.count) { chosen.insert(row.id) }
        }
        return chosen.sorted()
    }

    /// The batch is committed: what it wrote is saved unless it changed again meanwhile.
    public mutating func checkpointSucceeded(
        _ batch: CheckpointBatch, report: WriteReport = WriteReport(), duration: Duration, now: ContinuousClock.Instant
    ) {
        guard checkpointInFlight == batch.id else { return }
        checkpointInFlight = nil
        cellsInFlight = []
        markSaved(batch, report: report, now: now)
        monitor.recordCheckpoint(rows: batch.rowCount, duration: duration, transactions: report.transactions)
    }

    /// A batch of changes whose senders wait for the commit (durable events): the current state
    /// of these entities and cells, and every unsaved queued event of these cells. It may be
    /// written while a periodic batch is in flight; the writer keeps them in order.
    public mutating func takeDurable(entities ids: [EntityID], cells cellIDs: [CellID], now: ContinuousClock.Instant) -> CheckpointBatch {
        // Cells whose replayed events wait to be deleted go along too, with every entity those
        // events changed: an entity saved with a replayed event applied must not commit without
        // the event's deletion (a crash would replay it a second time), nor the deletion without
        // the entity (a crash would lose what the event did, acknowledged durable).
        let replayed = unsavedReplays.sorted().compactMap { cells[$0] }.filter { !$0.replayedPending.isEmpty }
        let replayedCells = replayed.map(\.id)
        let touched = replayed.reduce(into: Set(ids)) { $0.formUnion($1.replayedEntities) }
        let entityRows = touched.sorted().compactMap { id in dirtyEntities[id] == nil ? nil : entities[id] }
        let cellRows = Set(cellIDs).union(replayedCells).sorted().compactMap { id -> CellRecord? in
            guard dirtyCells[id] != nil, let cell = cells[id] else { return nil }
            return CellRecord(
                cell: id, version: cell.version, properties: cell.properties, worldEvents: cell.worldEvents,
                entityCount: cell.entities.count, replayedEvents: cell.replayedPending, ownerEpoch: epoch)
        }
        // Every unsaved queued event goes along, not only those of these cells: a replay may have
        // moved an event from one cell's queue to another's, and the deletion of the original
        // (with its cell's record) must not commit without the copy.
        var newEvents: [QueuedEvent] = []
        for cell in queues.keys.sorted() { newEvents.append(contentsOf: queues[cell]!.unpersisted) }
        defer { nextBatchID += 1 }
        return CheckpointBatch(id: nextBatchID, epoch: epoch, entities: entityRows, cells: cellRows, newEvents: newEvents,
                               oldestChange: nil, takenAt: now)
    }

    /// A durable batch committed, in `transactions` transactions of its own (0 when it shared
    /// another batch's group commit).
    public mutating func durableSucceeded(_ batch: CheckpointBatch, report: WriteReport = WriteReport(), transactions: UInt64 = 1,
                                          now: ContinuousClock.Instant) {
        markSaved(batch, report: report, now: now)
        monitor.dbWrites &+= transactions
    }

    /// What a committed batch wrote is saved, unless it changed again meanwhile. A row that did
    /// change again is unsaved only since the batch was taken: a crash now loses the changes made
    /// after that, not the older ones the batch committed. (Keeping the first change's time made
    /// a player who moves during every write look unsaved since its first move: at saturation
    /// the reported window grew to tens of seconds, and a bound on it closed intake for nothing.)
    private mutating func markSaved(_ batch: CheckpointBatch, report: WriteReport, now: ContinuousClock.Instant) {
        // Fenced rows belong to a newer owner: this shard must not keep serving them. Not a copy
        // taken in again meanwhile under a newer epoch (it came back in a handoff), and only rows
        // this batch wrote: a group commit reports the fenced rows of every batch it merged, and
        // a sibling batch's old copy says nothing about the copy held now.
        if !report.fencedEntities.isEmpty {
            let written = Dictionary(batch.entities.map { ($0.id, $0.ownerEpoch) }, uniquingKeysWith: max)
            for id in report.fencedEntities {
                guard let epoch = written[id], let held = entities[id], held.ownerEpoch <= epoch else { continue }
                dropEntity(id, now: now)
            }
        }
        monitor.fencedRows &+= UInt64(report.fencedEntities.count + report.fencedCells.count)
        monitor.deadLetters &+= UInt64(report.deadLetteredEntities.count + report.deadLetteredCells.count)
        for written in batch.entities where !report.leftOut.contains(written.id) {
            guard let current = entities[written.id] else {
                dirtyEntities[written.id] = nil
                continue
            }
            if current.version == written.version {
                dirtyEntities[written.id] = nil
            } else if let taken = batch.takenAt, let since = dirtyEntities[written.id], since < taken {
                dirtyEntities[written.id] = taken
            }
        }
        for record in batch.cells {
            if let pending = cells[record.cell]?.replayedPending, pending.starts(with: record.replayedEvents) {
                cells[record.cell]?.replayedPending.removeFirst(record.replayedEvents.count)
                if cells[record.cell]?.replayedPending.isEmpty == true {
                    cells[record.cell]?.replayedEntities = []
                    unsavedReplays.remove(record.cell)
                }
            }
            if cells[record.cell]?.version == record.version || !inMemory(record.cell) {
                dirtyCells[record.cell] = nil
            } else if let taken = batch.takenAt, let since = dirtyCells[record.cell], since < taken {
                dirtyCells[record.cell] = taken
            }
        }
        var persisted: [CellID: Set<UInt64>] = [:]
        for event in batch.newEvents { persisted[event.cell, default: []].insert(event.sequence) }
        for (cell, sequences) in persisted where queues[cell] != nil {
            unpersistedEvents -= queues[cell]!.markPersisted(sequences)
        }
        // Both kinds of batch take every event unpersisted when they are taken, so what is still
        // unpersisted now was queued after that.
        if unpersistedEvents == 0 {
            firstUnpersistedAt = nil
        } else if let taken = batch.takenAt, let first = firstUnpersistedAt, first < taken {
            firstUnpersistedAt = taken
        }
        if dirtyEntities.count < settings.earlyFlushThreshold { backlogReported = false }
    }

    /// True while queued events replayed onto the entity are still stored as queued: handed to
    /// another worker now, a crash before their deletion commits would replay them a second time.
    public func hasUnsavedReplay(of id: EntityID) -> Bool {
        unsavedReplays.contains { cells[$0]?.replayedEntities.contains(id) == true }
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
