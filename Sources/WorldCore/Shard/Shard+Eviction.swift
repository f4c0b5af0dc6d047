extension Shard {
    /// Cells holding state that storage does not have yet.
    func cellsWithUnsavedState() -> Set<CellID> {
        var result = Set(dirtyCells.keys)
        for id in dirtyEntities.keys { if let cell = entities[id]?.cell { result.insert(cell) } }
        return result
    }

    /// Evicts the inactive cells the cache policy chooses, never one with unsaved changes: for
    /// those it asks for a checkpoint and tries again on a later tick.
    mutating func evict(now: ContinuousClock.Instant) {
        let overLimit = settings.eviction.overLimit(residentCells: cells.count, residentEntities: entities.count)
        if let next = nextExpiryScan, now < next, !overLimit || evictionStalled { return }
        nextExpiryScan = now + settings.eviction.expiryScanInterval
        evictionStalled = false
        defer {
            evictionStalled = nextExpiryScan != nil
                && settings.eviction.overLimit(residentCells: cells.count, residentEntities: entities.count)
        }
        var candidates: [EvictionPolicy.Candidate] = []
        for index in cells.indices where cells.values[index].phase == .resident {
            let id = cells.keys[index]
            guard interest[id] == 0, pinned.isEmpty || !pinned.contains(id) else { continue }
            candidates.append(EvictionPolicy.Candidate(cell: id, lastAccess: cells.values[index].lastAccess,
                                                       entities: cells.values[index].entities.count))
        }
        guard !candidates.isEmpty else { return }
        let chosen = settings.eviction.choose(candidates, residentCells: cells.count, residentEntities: entities.count, now: now)
        guard !chosen.isEmpty else { return }
        let unsaved = cellsWithUnsavedState()
        var waiting = false
        for cell in chosen {
            if unsaved.contains(cell) || checkpointInFlight != nil && cellsInFlight.contains(cell) {
                if !waiting { actions.append(.checkpointSoon(.evictionWaiting(cell))) }
                waiting = true
                nextExpiryScan = nil  // look again on the next tick, once it is saved
                continue
            }
            guard let removed = cells.removeValue(forKey: cell) else { continue }
            for id in removed.entities {
                entities[id] = nil
                noteDeparture(id)
                presence[id] = nil
            }
            monitor.evictions &+= 1
            actions.append(.evicted(cell))
        }
    }
}
