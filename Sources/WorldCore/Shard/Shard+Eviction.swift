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
        let candidates = cells.values.compactMap { cell -> EvictionPolicy.Candidate? in
            guard cell.phase == .resident, (interest[cell.id] ?? 0) == 0 else { return nil }
            return EvictionPolicy.Candidate(cell: cell.id, lastAccess: cell.lastAccess, entities: cell.entities.count)
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
                continue
            }
            guard let removed = cells.removeValue(forKey: cell) else { continue }
            for id in removed.entities {
                entities[id] = nil
                departures &+= 1
                presence[id] = nil
            }
            monitor.evictions &+= 1
            actions.append(.evicted(cell))
        }
    }
}
