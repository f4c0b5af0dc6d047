extension Shard {
    // MARK: Presence and interest

    /// Records that a player sent something: it keeps the cells within the active radius of its
    /// cell active. `previous` is the cell it was in when it was already present.
    mutating func notePresence(_ id: EntityID, in cell: CellID, previous: CellID?, now: ContinuousClock.Instant) {
        // Found by index and set in place: `updateValue` hands back the old `Instant?`, and an
        // `Instant` (a resilient type) is copied and destroyed through its value witnesses.
        let wasPresent: Bool
        if let index = presence.index(forKey: id) {
            presence.values[index] = now
            wasPresent = true
        } else {
            presence[id] = now
            wasPresent = false
        }
        let r = settings.activeRadius
        if !wasPresent {
            grid.forEachCell(within: r, of: cell) { addInterest($0, now: now) }
        } else if let previous, previous != cell {
            prefetch(ahead: cell, from: previous, now: now)
            // The two squares' difference, walked in place: no sets or arrays built on a step.
            grid.forEachCell(within: r, of: cell, beyond: previous) { addInterest($0, now: now) }
            grid.forEachCell(within: r, of: previous, beyond: cell) { removeInterest($0, now: now) }
        }
    }

    /// Starts loading the cells one ring beyond the active radius in the direction a player walks,
    /// so they are in memory (resident) before its radius reaches them: a player never waits for
    /// a load. Only this worker's own cells that are not in memory yet.
    private mutating func prefetch(ahead cell: CellID, from previous: CellID, now: ContinuousClock.Instant) {
        grid.forEachCell(ahead: settings.activeRadius + 1, of: cell, from: previous) { c in
            guard cells.index(forKey: c) == nil, ownership?.owns(c) ?? true else { return }
            requestLoad(c, now: now)
            monitor.prefetches &+= 1
        }
    }

    /// The player stops keeping cells active (it went quiet).
    mutating func endPresence(_ id: EntityID, now: ContinuousClock.Instant) {
        guard presence.removeValue(forKey: id) != nil, let cell = entities[id]?.cell else { return }
        grid.forEachCell(within: settings.activeRadius, of: cell) { removeInterest($0, now: now) }
    }

    private mutating func addInterest(_ cell: CellID, now: ContinuousClock.Instant) {
        if let ownership, !ownership.owns(cell) {
            // Another worker's cell: that worker activates it when told (see `remoteNeeds`).
            if remoteNeeds.add(cell) == 1 { remoteNeedsChanges &+= 1 }
            return
        }
        guard interest.add(cell) == 1 else { return }
        cooling.remove(cell)
        guard let phase = phase(of: cell) else {
            requestLoad(cell, now: now)
            return
        }
        switch phase {
        case .loading, .active: break
        case .cooling: setPhase(cell, .active)
        case .resident:
            monitor.cacheHits += 1
            setPhase(cell, .active)
            replayQueue(of: cell, now: now)
        }
    }

    private mutating func removeInterest(_ cell: CellID, now: ContinuousClock.Instant) {
        if let needed = remoteNeeds.remove(cell) {
            if needed == 0 { remoteNeedsChanges &+= 1 }
            return
        }
        guard interest.remove(cell) == 0 else { return }
        if phase(of: cell) == .active {
            setPhase(cell, .cooling(since: now))
            cooling.insert(cell)
        }
    }

    /// Sets which of this shard's cells other workers' players need active (their whole current
    /// set: the difference from the last call is applied).
    public mutating func setExternalInterest(_ needed: Set<CellID>, now: ContinuousClock.Instant) {
        let owned = needed.filter { ownership?.owns($0) ?? true }
        for cell in owned.subtracting(externalInterest) { addInterest(cell, now: now) }
        for cell in externalInterest.subtracting(owned) { removeInterest(cell, now: now) }
        externalInterest = owned
    }

    /// Changes a loaded cell's phase, keeping the set of active cells in step.
    mutating func setPhase(_ cell: CellID, _ phase: CellPhase) {
        guard inMemory(cell) else { return }
        cells[cell]!.phase = phase
        if phase.isActive { activeSet.insert(cell) } else { activeSet.remove(cell) }
    }

    // MARK: Loading

    /// Creates the cell as loading and asks the shell for its checkpoint.
    mutating func requestLoad(_ cell: CellID, now: ContinuousClock.Instant) {
        guard !inMemory(cell) else { return }
        cells[cell] = Cell(id: cell, phase: .loading, lastAccess: now)
        monitor.cacheMisses += 1
        actions.append(.load(cell))
    }

    /// Makes sure a cell that an entity enters is in memory.
    mutating func ensureLoaded(_ cell: CellID, now: ContinuousClock.Instant) {
        if !inMemory(cell) { requestLoad(cell, now: now) }
    }

    /// Installs what storage had for a loading cell: its entities (those memory does not already
    /// hold: memory is newer), properties and stored queue. Then, if players need it, the cell
    /// activates and its queue replays in order.
    public mutating func cellLoaded(_ checkpoint: CellCheckpoint, now: ContinuousClock.Instant) {
        guard phase(of: checkpoint.cell) == .loading else { return }  // not asked for (any more): ignore
        monitor.dbReads &+= 1
        var skipped: [EntityID] = []
        install(checkpoint, skipped: &skipped, now: now)
    }

    /// Installs the checkpoints of one batched load (one storage read, whatever the count).
    /// - Parameter asked: `departures` when the load was asked for. An entity that left memory
    ///   after that is not taken from this answer: the answer may predate its handoff's claim or
    ///   its save (a row from before, installed, would serve an older copy: acknowledged changes
    ///   lost). Where it is now, a lookup finds out.
    /// - Returns: the entities left out for that reason.
    @discardableResult
    public mutating func cellsLoaded(_ checkpoints: [CellCheckpoint], asked: UInt64? = nil, now: ContinuousClock.Instant) -> [EntityID] {
        monitor.dbReads &+= 1
        var skipped: [EntityID] = []
        for checkpoint in checkpoints where phase(of: checkpoint.cell) == .loading {
            install(checkpoint, departedSince: asked, skipped: &skipped, now: now)
        }
        return skipped
    }

    private mutating func install(_ checkpoint: CellCheckpoint, departedSince asked: UInt64? = nil, skipped: inout [EntityID],
                                  now: ContinuousClock.Instant) {
        let id = checkpoint.cell
        for var entity in checkpoint.entities where entities[entity.id] == nil {
            if let asked, let left = departedAt[entity.id], left > asked {
                skipped.append(entity.id)
                continue
            }
            entity.cell = id
            entities[entity.id] = entity
            cells[id]?.entities.insert(entity.id)
        }
        cells[id]?.properties.merge(checkpoint.properties) { memory, _ in memory }
        if cells[id]?.worldEvents.isEmpty == true { cells[id]?.worldEvents = checkpoint.worldEvents }
        let stored = checkpoint.events
        if !stored.isEmpty { queues[id, default: DeferredQueue()].merge(stored: stored) }
        // Keep each cell's order (a stored sequence past Counter.max leaves no successor: enqueue refuses then).
        nextSequence = max(nextSequence, Counter.next(stored.map(\.sequence).max() ?? 0) ?? Counter.max)

        // Players the queue's events are for come back into presence: they asked for this load.
        let waitingPlayers = Set(queues[id]?.events.compactMap { queued -> EntityID? in
            switch queued.event {
            case let .entityMove(e, _), let .entityAction(e, _, _): entities[e]?.kind == .player ? e : nil
            default: nil
            }
        } ?? [])
        if interest[id] > 0 {
            setPhase(id, .active)
            replayQueue(of: id, now: now)
        } else {
            setPhase(id, .resident)
            cells[id]?.lastAccess = now
        }
        for player in waitingPlayers.sorted() where presence[player] == nil {
            if let cell = entities[player]?.cell { notePresence(player, in: cell, previous: nil, now: now) }
        }
        if welcoming.remove(id) != nil { notePlayersPresent(in: id, now: now) }
    }

    /// Storage could not load the cell: forget the attempt so the next need asks again. Queued
    /// events stay queued.
    public mutating func loadFailed(_ cell: CellID) {
        guard let loading = cells[cell], loading.phase == .loading else { return }
        if loading.entities.isEmpty {
            cells[cell] = nil
        }
        monitor.loadFailures &+= 1
    }

    // MARK: Replay

    /// Applies a newly active cell's queued events exactly once, in sequence order.
    mutating func replayQueue(of cell: CellID, now: ContinuousClock.Instant) {
        guard var queue = queues.removeValue(forKey: cell), !queue.isEmpty else { return }
        let (events, unpersisted) = queue.drain()
        unpersistedEvents -= unpersisted
        var replayed: [UInt64] = []
        replayed.reserveCapacity(events.count)
        var touched: Set<EntityID> = []
        for queued in events {
            replayed.append(queued.sequence)
            if let id = queued.event.entity { touched.insert(id) }
            do {
                _ = try applyReplayed(queued, now: now)
                monitor.eventsReplayed &+= 1
            } catch {
                monitor.replayRejected &+= 1
                actions.append(.replayRejected(queued, error))
            }
        }
        // Stored with the cell's next checkpoint, in the same transaction that deletes the stored
        // events: after a crash they are either both there or both not.
        cells[cell]?.replayedPending.append(contentsOf: replayed)
        cells[cell]?.replayedEntities.formUnion(touched)
        unsavedReplays.insert(cell)
        markCellDirty(cell, now: now)
    }

    /// Applies a resident cell's queue now, in order, as if a player had come near; the cell stays
    /// inactive. For an NPC about to leave for another worker's cell, whose move cannot wait in
    /// the queue.
    public mutating func replayNow(_ cell: CellID, now: ContinuousClock.Instant) {
        guard cells[cell]?.phase == .resident, queues[cell]?.isEmpty == false else { return }
        activeSet.insert(cell)  // replayed events apply instead of queueing again
        replayQueue(of: cell, now: now)
        // A replayed player's event may have activated the cell for real: then it stays in the set.
        if cells[cell]?.phase.isActive != true { activeSet.remove(cell) }
    }

    /// Applies one replayed event, bypassing the unsaved-change bound (it was admitted when queued).
    private mutating func applyReplayed(_ queued: QueuedEvent, now: ContinuousClock.Instant) throws(WorldError) -> EventOutcome {
        let outer = replaying
        replaying = true
        defer { replaying = outer }
        return try apply(queued.event, to: queued.cell, now: now)
    }

    // MARK: Time

    /// Advances time: quiet players stop keeping cells active, cooled cells deactivate, and the
    /// cache policy evicts inactive cells that are saved.
    public mutating func tick(now: ContinuousClock.Instant) {
        for (player, seen) in presence where now - seen >= settings.presenceTimeout {
            endPresence(player, now: now)
        }
        for cell in cooling {
            guard case let .cooling(since)? = phase(of: cell) else {
                cooling.remove(cell)
                continue
            }
            if now - since >= settings.hysteresis {
                cooling.remove(cell)
                setPhase(cell, .resident)
                cells[cell]?.lastAccess = now
                actions.append(.deactivated(cell))
            }
        }
        evict(now: now)
        if dirtyEntities.count < settings.earlyFlushThreshold { backlogReported = false }
    }
}
