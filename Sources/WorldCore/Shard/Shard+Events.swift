extension Shard {
    /// Applies an event to an active cell, or queues it for an inactive one.
    ///
    /// Entity events go to the cell the entity is in when it is in memory (memory is the truth);
    /// otherwise to `cell`. An entity event for an unloaded cell also asks for the cell to be
    /// loaded, so that a player's own events make it present again after a restart; the event
    /// waits in the queue meanwhile.
    /// - Throws: `WorldError` naming the bad position, stat, cell or entity; `.queueFull` when the
    ///   inactive cell's queue is full; `.storageUnavailable` when unsaved changes hit the bound.
    ///   Nothing changes when it throws.
    public mutating func apply(_ event: GameEvent, to cell: CellID, now: ContinuousClock.Instant) throws(WorldError) -> EventOutcome {
        try settings.limits.check(event)
        switch event {
        case let .entityMove(id, to):
            if let index = entities.index(forKey: id) { return try moveHeld(id, at: index, to: to, now: now) }
            _ = try grid.cell(at: to)
            return try applyToAbsentEntity(id, event, cell: cell, now: now)

        case let .entityAction(id, _, deltas):
            try validate(deltas)
            if let index = entities.index(forKey: id) {
                let (current, kind) = Self.inPlace(&entities.values[index]) { ($0.cell, $0.kind) }
                if isActive(current) { return try act(at: index, event, now: now) }
                if kind == .player {
                    notePresence(id, in: current, previous: nil, now: now)
                    return try act(at: entities.index(forKey: id)!, event, now: now)
                }
                return try enqueue(event, in: current, now: now)
            }
            return try applyToAbsentEntity(id, event, cell: cell, now: now)

        case .cellStateChange, .worldEvent:
            let target = try grid.validate(cell)
            if isActive(target) { return try applyCellEvent(event, to: target, now: now) }
            return try enqueue(event, in: target, now: now)

        case let .entitySpawn(entity):
            try validateSpawn(entity)
            let target = try grid.cell(at: entity.position)
            if entity.kind == .player || isActive(target) {
                return try spawn(entity, in: target, now: now)
            }
            return try enqueue(event, in: target, now: now)
        }
    }

    /// An entity memory holds, found once for a request's checks and its move (`locate`,
    /// `applyMove`): each lookup hashes the id and probes the table again.
    public struct Located {
        public let index: Dictionary<EntityID, Entity>.Index
        public let cell: CellID
        public let kind: EntityKind

        @usableFromInline init(index: Dictionary<EntityID, Entity>.Index, cell: CellID, kind: EntityKind) {
            self.index = index
            self.cell = cell
            self.kind = kind
        }
    }

    /// Where memory holds the entity (nil: it does not), read in place.
    @inlinable public mutating func locate(_ id: EntityID) -> Located? {
        guard let index = entities.index(forKey: id) else { return nil }
        let (cell, kind) = Self.inPlace(&entities.values[index]) { ($0.cell, $0.kind) }
        return Located(index: index, cell: cell, kind: kind)
    }

    /// `apply(.entityMove(id, to: to), to: found.cell, now:)` for an entity `locate` found, with
    /// no entity added to memory or taken from it since (its index would be stale: a trap).
    public mutating func applyMove(_ id: EntityID, at found: Located, to: Position, now: ContinuousClock.Instant) throws(WorldError) -> EventOutcome {
        try settings.limits.check(.entityMove(id, to: to))
        return try moveHeld(id, at: found.index, to: to, now: now)
    }

    /// A move of an entity memory holds at `index`: applied when its cell is active, else queued
    /// there (a player activates its cells first).
    private mutating func moveHeld(_ id: EntityID, at index: Dictionary<EntityID, Entity>.Index, to: Position,
                                   now: ContinuousClock.Instant) throws(WorldError) -> EventOutcome {
        let (current, kind) = Self.inPlace(&entities.values[index]) { ($0.cell, $0.kind) }
        if isActive(current) { return try move(at: index, to: to, now: now) }
        _ = try grid.cell(at: to)
        if kind == .player {
            // The player is back: its cells activate (replaying what waited) before its own move.
            notePresence(id, in: current, previous: nil, now: now)
            return try move(at: entities.index(forKey: id)!, to: to, now: now)
        }
        return try enqueue(.entityMove(id, to: to), in: current, now: now)
    }

    /// Whether events for `cell` apply at once (it is active or cooling) rather than queue.
    @inline(__always)
    public func isActive(_ cell: CellID) -> Bool { activeSet.contains(cell) }

    /// Reads or changes an entity where it is stored, without copying it (a copy would retain
    /// its stats on every update).
    /// Checks a spawn as `apply` would, without applying it: its limits, stats, counters,
    /// position, whether memory holds the id, and the unsaved-change bound.
    /// - Throws: the `WorldError` `apply` would throw.
    public func validateSpawn(_ entity: Entity) throws(WorldError) {
        try settings.limits.check(.entitySpawn(entity))
        try validate(entity.stats)
        if let counter = entity.exhaustedCounter { throw .counterExhausted(what: "the \(counter) of spawned entity \(entity.id.raw)") }
        _ = try grid.cell(at: entity.position)
        if entities[entity.id] != nil { throw .entityExists(entity.id) }
        try admit(addingUnsaved: true)
    }

    @inline(__always)
    @usableFromInline static func inPlace<R>(_ entity: inout Entity, _ body: (inout Entity) -> R) -> R { body(&entity) }

    private func validate(_ stats: [String: Double]) throws(WorldError) {
        for (name, value) in stats where !value.isFinite { throw .invalidStat(name: name, value: value) }
    }

    private mutating func applyToAbsentEntity(
        _ id: EntityID, _ event: GameEvent, cell: CellID, now: ContinuousClock.Instant
    ) throws(WorldError) -> EventOutcome {
        let target = try grid.validate(cell)
        if isActive(target) { throw .unknownEntity(id) }
        let outcome = try enqueue(event, in: target, now: now)
        if !inMemory(target) { requestLoad(target, now: now) }
        return outcome
    }

    /// Refuses a change that would add to the unsaved set once it is full.
    @inline(__always)
    func admit(addingUnsaved: Bool) throws(WorldError) {
        if addingUnsaved && !replaying && unsavedChanges >= settings.maxUnsavedChanges {
            throw .storageUnavailable(unsaved: unsavedChanges, limit: settings.maxUnsavedChanges)
        }
    }

    /// Marks an entity unsaved. `wasUnsaved` is what the caller already looked up (one hash
    /// lookup per update instead of two on the hot path).
    @inline(__always)
    mutating func markDirty(_ id: EntityID, now: ContinuousClock.Instant, wasUnsaved: Bool) {
        guard !wasUnsaved else { return }
        dirtyEntities[id] = now
        if dirtyEntities.count >= settings.earlyFlushThreshold && !backlogReported {
            backlogReported = true
            actions.append(.checkpointSoon(.backlog(dirtyEntities.count)))
        }
    }

    mutating func markCellDirty(_ cell: CellID, now: ContinuousClock.Instant) {
        if dirtyCells[cell] == nil { dirtyCells[cell] = now }
        cells[cell]?.version &+= 1
    }

    private mutating func move(at index: Dictionary<EntityID, Entity>.Index, to: Position, now: ContinuousClock.Instant) throws(WorldError) -> EventOutcome {
        let newCell = try grid.cell(at: to)
        // Only a replayed move can get here for another worker's cell (a request would have
        // been handed off): moving the entity there in this memory would make a second copy.
        // (The cell compared first: `ownership` is copied out only for a move into another cell.)
        let leaves = Self.inPlace(&entities.values[index]) { $0.cell } != newCell
        if leaves, let ownership, !ownership.owns(newCell) { throw .notOwned(newCell) }
        let id = entities.keys[index]
        let wasUnsaved = dirtyEntities.index(forKey: id) != nil  // by index: no copy of an `Instant?` out
        try admit(addingUnsaved: !wasUnsaved)
        let stepped = Self.inPlace(&entities.values[index]) { e -> (CellID, UInt64, Bool)? in
            guard let version = Counter.next(e.version) else { return nil }
            let old = e.cell
            e.position = to
            e.version = version
            e.cell = newCell
            return (old, version, e.kind == .player)
        }
        guard let (oldCell, version, isPlayer) = stepped else { throw .counterExhausted(what: "the version of entity \(id.raw)") }
        if newCell != oldCell { relocate(id, from: oldCell, to: newCell, now: now) }
        if isPlayer { notePresence(id, in: newCell, previous: oldCell, now: now) }
        markDirty(id, now: now, wasUnsaved: wasUnsaved)
        monitor.eventsApplied &+= 1
        return .applied(version: version)
    }

    private mutating func act(at index: Dictionary<EntityID, Entity>.Index, _ event: GameEvent, now: ContinuousClock.Instant) throws(WorldError) -> EventOutcome {
        guard case let .entityAction(id, _, deltas) = event else { preconditionFailure("not an action") }
        let wasUnsaved = dirtyEntities.index(forKey: id) != nil  // by index: no copy of an `Instant?` out
        try admit(addingUnsaved: !wasUnsaved)
        let limit = settings.limits.statsPerEntity
        let stepped = Self.inPlace(&entities.values[index]) { e -> Result<(UInt64, Bool, CellID), WorldError> in
            guard let version = Counter.next(e.version) else { return .failure(.counterExhausted(what: "the version of entity \(id.raw)")) }
            guard let actions = Counter.next(e.actions) else { return .failure(.counterExhausted(what: "the action count of entity \(id.raw)")) }
            if e.stats.count + deltas.count > limit {
                let total = e.stats.count + deltas.keys.reduce(0) { $0 + (e.stats[$1] == nil ? 1 : 0) }
                if total > limit { return .failure(.overLimit(what: "stats of entity \(id.raw) after this action", size: total, key: "max_stats_per_entity", limit: limit)) }
            }
            for (name, delta) in deltas { e.stats[name, default: 0] += delta }
            e.actions = actions
            e.version = version
            return .success((version, e.kind == .player, e.cell))
        }
        let (version, isPlayer, cell) = try stepped.get()
        if isPlayer { notePresence(id, in: cell, previous: cell, now: now) }
        markDirty(id, now: now, wasUnsaved: wasUnsaved)
        monitor.eventsApplied &+= 1
        return .applied(version: version)
    }

    private mutating func applyCellEvent(_ event: GameEvent, to cell: CellID, now: ContinuousClock.Instant) throws(WorldError) -> EventOutcome {
        try admit(addingUnsaved: dirtyCells[cell] == nil)
        switch event {
        case let .cellStateChange(set, remove):
            if let properties = cells[cell]?.properties, properties.count + set.count > settings.limits.cellStateKeys {
                let removed = Set(remove)
                let kept = properties.keys.filter { !removed.contains($0) && set[$0] == nil }.count
                let total = kept + set.count
                if total > settings.limits.cellStateKeys {
                    throw .overLimit(what: "keys in the state of cell \(cell.raw) after this change", size: total,
                                     key: "max_cell_state_keys", limit: settings.limits.cellStateKeys)
                }
            }
            for key in remove { cells[cell]?.properties[key] = nil }
            for (key, value) in set { cells[cell]?.properties[key] = value }
        case let .worldEvent(name, payload):
            cells[cell]?.worldEvents.append(WorldEventRecord(name: name, payload: payload))
            let keep = settings.recentWorldEventsPerCell
            if let count = cells[cell]?.worldEvents.count, count > keep {
                cells[cell]?.worldEvents.removeFirst(count - keep)
            }
        default:
            preconditionFailure("not a cell event")
        }
        markCellDirty(cell, now: now)
        monitor.eventsApplied &+= 1
        return .applied(version: cells[cell]?.version ?? 0)
    }

    private mutating func spawn(_ entity: Entity, in cell: CellID, now: ContinuousClock.Instant) throws(WorldError) -> EventOutcome {
        try admit(addingUnsaved: true)
        var placed = entity
        placed.cell = cell
        placed.version = max(placed.version, 1)
        // An epoch it comes with is the one storage holds it under (a reserved spawn); else this shard's.
        placed.ownerEpoch = placed.ownerEpoch > 0 ? placed.ownerEpoch : epoch
        entities[placed.id] = placed
        ensureLoaded(cell, now: now)
        cells[cell]?.entities.insert(placed.id)
        if placed.kind == .player { notePresence(placed.id, in: cell, previous: nil, now: now) }
        markDirty(placed.id, now: now, wasUnsaved: dirtyEntities[placed.id] != nil)
        monitor.eventsApplied &+= 1
        return .applied(version: placed.version)
    }

    /// Moves an entity's membership between cells; the destination is loaded if it is not in memory.
    mutating func relocate(_ id: EntityID, from: CellID, to: CellID, now: ContinuousClock.Instant) {
        // By index: `cells[key]?.…` goes through the dictionary's optional accessor, which moved
        // the cell out and back (3 % of a soak worker's samples, where a third of moves change cell).
        if let old = cells.index(forKey: from) { cells.values[old].entities.remove(id) }
        ensureLoaded(to, now: now)
        if let new = cells.index(forKey: to) { cells.values[new].entities.insert(id) }
    }

    private mutating func enqueue(_ event: GameEvent, in cell: CellID, now: ContinuousClock.Instant) throws(WorldError) -> EventOutcome {
        let count = queues[cell]?.count ?? 0
        guard count < settings.queueLimit else { throw .queueFull(cell, limit: settings.queueLimit) }
        try admit(addingUnsaved: true)
        let sequence = nextSequence
        guard let following = Counter.next(sequence) else { throw .counterExhausted(what: "the event sequence of this worker") }
        nextSequence = following
        queues[cell, default: DeferredQueue()].append(QueuedEvent(sequence: sequence, cell: cell, event: event))
        if unpersistedEvents == 0 { firstUnpersistedAt = now }
        unpersistedEvents += 1
        monitor.eventsDeferred &+= 1
        return .deferred(sequence: sequence)
    }
}
