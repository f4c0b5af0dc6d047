extension Shard {
    /// `RequestRouting.gate` under this shard's ownership, read where it is stored. Mutating only
    /// so that a caller whose shard lives in a class passes it in place: reading `ownership` out
    /// to pass it copies an `Ownership?` field by field through its value witnesses (~420
    /// instructions of a batched move's ~6,100, callgrind, session 46).
    public mutating func gate(_ cell: CellID, worker: String, mayServe: Bool) -> RequestRouting.Gate {
        RequestRouting.gate(cell, ownership: ownership, grid: settings.grid, worker: worker, mayServe: mayServe)
    }

    /// Takes a new set of owned cells. Interest is counted again under it: players' windows now
    /// keep this shard's new cells active, and count other workers' cells as remote needs. Cells
    /// no longer owned stay in memory until `takeRelease` and `forget` hand them over.
    public mutating func setOwnership(_ new: Ownership?, now: ContinuousClock.Instant) {
        ownership = new
        let before = interest
        interest.removeAll()
        remoteNeeds.removeAll()
        remoteNeedsChanges &+= 1
        for player in presence.keys {
            guard let cell = entities[player]?.cell else { continue }
            grid.forEachCell(within: settings.activeRadius, of: cell) { c in
                if let new, !new.owns(c) { remoteNeeds.add(c) } else { interest.add(c) }
            }
        }
        externalInterest = externalInterest.filter { new?.owns($0) ?? true }
        for c in externalInterest { interest.add(c) }
        for cell in interest.cells where before[cell] == 0 {
            cooling.remove(cell)
            switch phase(of: cell) {
            case nil: requestLoad(cell, now: now)
            case .resident?:
                setPhase(cell, .active)
                replayQueue(of: cell, now: now)
            case .cooling?: setPhase(cell, .active)
            case .loading?, .active?: break
            }
        }
        for cell in before.cells where interest[cell] == 0 && phase(of: cell) == .active {
            setPhase(cell, .cooling(since: now))
            cooling.insert(cell)
        }
    }

    /// Everything unsaved of `cells`, with their new owners: one transaction saves the state and
    /// names the owners. Until `forget` the cells stay in memory (unsaved, if it fails).
    ///
    /// Every unsaved entity goes with it, not only those in these cells: an entity that moved
    /// out of one of them since its last save may still be stored there, and the receiver must
    /// not load that stale row as a second copy. Those outside the cells are optional
    /// (`CheckpointBatch.optionalEntities`): storage writes them only when their stored row
    /// names a given cell, which it reads in the release's own transaction. Only storage knows
    /// that cell: a periodic batch taken before the release may have put the row there, and a
    /// claim after a handoff back rewrites it (tracking it here was tried in session 19 and taken
    /// back). The writer runs batches in order, so every batch taken before has landed by then;
    /// and an entity is frozen while a claim of it is in flight, so no claim's older copy can
    /// land afterwards. Entities that replayed events touched are never optional: they commit
    /// with the events' deletion.
    public mutating func takeRelease(_ transfers: [CellTransfer], now: ContinuousClock.Instant) -> CheckpointBatch {
        let set = Set(transfers.map(\.cell))
        var batch = takeDurable(entities: Array(dirtyEntities.keys), cells: Array(set), now: now)
        batch.transfers = transfers
        let touched = Set(unsavedReplays.flatMap { cells[$0]?.replayedEntities ?? [] })
        batch.optionalEntities = Set(batch.entities.lazy.filter { !set.contains($0.cell) && !touched.contains($0.id) }.map(\.id))
        return batch
    }

    /// The release batch committed (and was marked saved like any durable batch): the cells
    /// belong to others now; drop them from memory.
    public mutating func forget(_ batch: CheckpointBatch, now: ContinuousClock.Instant) {
        for transfer in batch.transfers {
            let cell = transfer.cell
            if let removed = cells.removeValue(forKey: cell) {
                for id in removed.entities {
                    // Its window no longer counts here: else this worker would go on asking the
                    // new owner to keep the cells around it active (and keep its own active).
                    endPresence(id, now: now)
                    entities[id] = nil
                    noteDeparture(id)
                    dirtyEntities[id] = nil
                }
            }
            welcoming.remove(cell)
            unsavedReplays.remove(cell)
            if let queue = queues.removeValue(forKey: cell) { unpersistedEvents -= queue.unpersisted.count }
            dirtyCells[cell] = nil
            interest.clear(cell)
            cooling.remove(cell)
            activeSet.remove(cell)
        }
        if unpersistedEvents <= 0 {
            unpersistedEvents = 0
            firstUnpersistedAt = nil
        }
    }

    /// Raises the queued-event counter above `sequence` (the highest stored for cells this shard
    /// just received), so replay order holds across owners.
    public mutating func raiseSequence(above sequence: UInt64) {
        nextSequence = max(nextSequence, Counter.next(sequence) ?? Counter.max)  // a stored value may be anything
    }

    /// Entities per loaded cell (the load a worker reports).
    public var entitiesPerCell: [CellID: Int] {
        // From the entities, not the cells: every loaded cell (thousands, most of them empty) would
        // be copied with its collections, a millisecond on the request thread at each heartbeat.
        var result: [CellID: Int] = [:]
        for index in entities.indices { result[entities.values[index].cell, default: 0] += 1 }
        return result
    }

    /// Asks for a cell to be loaded (the shell then loads it, as for any other need).
    public mutating func requestCell(_ cell: CellID, now: ContinuousClock.Instant) {
        ensureLoaded(cell, now: now)
    }

    /// Cells this shard took over that hold players: they load now, and their players keep
    /// their surroundings active as they did with the cells' last owner (until they go quiet),
    /// rather than waiting in storage for their next request.
    public mutating func welcomePlayers(in cellIDs: [CellID], now: ContinuousClock.Instant) {
        for cell in cellIDs where ownership?.owns(cell) ?? true {
            if let phase = cells[cell]?.phase, phase != .loading {
                notePlayersPresent(in: cell, now: now)
            } else {
                welcoming.insert(cell)
                ensureLoaded(cell, now: now)
            }
        }
    }

    /// The players in a loaded cell that are not present yet become present.
    mutating func notePlayersPresent(in cell: CellID, now: ContinuousClock.Instant) {
        for id in (cells[cell]?.entities ?? []).sorted() where presence[id] == nil && entities[id]?.kind == .player {
            notePresence(id, in: cell, previous: nil, now: now)
        }
    }

    /// Every entity in memory (for audits), by id.
    public var allEntities: [Entity] { entities.values.sorted { $0.id < $1.id } }

    /// Forgets everything: a fenced worker's memory is no longer the truth.
    public mutating func reset() {
        let departed = departures &+ UInt64(entities.count)
        let counters = monitor  // the process's totals: they count on (a summary or a scrape must never see one go back)
        let needsChanges = remoteNeedsChanges  // goes on too: the worker compares it with what it last sent
        self = Shard(settings: settings, firstSequence: nextSequence)
        departures = departed
        monitor = counters
        remoteNeedsChanges = needsChanges &+ 1
    }
}
