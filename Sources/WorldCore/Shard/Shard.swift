/// A worker's world state: the cells it holds in memory, their entities, the players keeping
/// cells active, the queues of inactive cells and what is not yet saved.
///
/// Pure: no I/O. Callers pass the time in, and collect what the shard needs done with
/// `takeActions()` (load a cell, checkpoint soon, …). One owner mutates it.
public struct Shard: Sendable {
    public let settings: ShardSettings
    var grid: Grid { settings.grid }

    // Visible to inlined reads: the worker calls `entity(_:)` and `phase(of:)` several times per
    // request, and a call it cannot inline copies the whole shard (every collection retained).
    @usableFromInline var cells: [CellID: Cell] = [:]
    @usableFromInline var entities: [EntityID: Entity] = [:]
    /// The value of `departures` right after each recent departure: a load asked for before then
    /// may hold an older row of that entity (its handoff's claim, or its save, committed after the
    /// load's snapshot), which must not come back into memory. See `forgetDepartures(before:)`.
    var departedAt: [EntityID: UInt64] = [:]
    /// How many present players' windows (and other workers' players, `externalInterest`) cover
    /// each of this shard's cells.
    var interest: CellCounts
    /// Players keeping cells active, with the time they last sent something.
    var presence: [EntityID: ContinuousClock.Instant] = [:]
    var cooling: Set<CellID> = []
    /// Cells whose phase is active or cooling (kept by `setPhase`): the hot path's one lookup.
    var activeSet: Set<CellID> = []
    var queues: [CellID: DeferredQueue] = [:]

    /// Entities with unsaved changes, with the time of their oldest unsaved change.
    var dirtyEntities: [EntityID: ContinuousClock.Instant] = [:]
    /// Cells with unsaved cell-level state, with the time of their oldest unsaved change.
    var dirtyCells: [CellID: ContinuousClock.Instant] = [:]
    var unpersistedEvents = 0
    /// When the events now unpersisted began to accumulate (an upper bound on their age).
    var firstUnpersistedAt: ContinuousClock.Instant?
    var nextSequence: UInt64
    var nextBatchID: UInt64 = 1
    var checkpointInFlight: UInt64?
    /// Cells whose state rides in the batch being written: not evicted until it lands.
    var cellsInFlight: Set<CellID> = []
    var backlogReported = false
    /// When idle cells are next looked at for the TTL policy (scanning every cell on every tick
    /// copied each one 20 times a second).
    var nextExpiryScan: ContinuousClock.Instant?
    /// The last scan left the shard over a cache limit with nothing more it could evict (the
    /// rest is active or needed): the next scan waits for `nextExpiryScan` too.
    var evictionStalled = false
    /// True while queued events replay: they were admitted when queued.
    var replaying = false
    /// Cells the shell needs kept in memory whatever the cache policy says (those that entities
    /// frozen in outgoing handoffs are leaving).
    public var pinned: Set<CellID> = []
    /// Cells taken over with players in them: once loaded, those players are present.
    var welcoming: Set<CellID> = []
    /// Cells with replayed events whose stored copies are not deleted yet (see `Cell.replayedPending`).
    var unsavedReplays: Set<CellID> = []

    /// Other workers' cells within this shard's players' radius, with how many players need each.
    var remoteNeeds: CellCounts
    /// Counts changes to the set of cells in `remoteNeeds` (not to their counts): the worker
    /// tells neighbours only when it changed.
    public internal(set) var remoteNeedsChanges: UInt64 = 0
    /// Other workers' cells that this shard's players need active, in ascending order.
    public var remoteNeededCells: [CellID] { remoteNeeds.cells }
    /// This shard's cells that other workers' players need active.
    var externalInterest: Set<CellID> = []

    /// The cells this shard owns: nil while it owns the whole world. Players' windows never
    /// load or activate another worker's cells here.
    public var ownership: Ownership?

    /// The ownership epoch this shard writes under; storage refuses its writes once a newer
    /// owner has written (set by the worker from the shard map).
    public var epoch: UInt64 = 1

    var actions: [ShardAction] = []
    var monitor = MonitorCounters()
    /// Counts entities that left memory (evicted with their cell, dropped, released), never
    /// going back: a storage answer asked for before it changed may predate a save.
    public internal(set) var departures: UInt64 = 0

    /// - Parameter firstSequence: the next queued-event sequence; above every sequence in storage.
    public init(settings: ShardSettings, firstSequence: UInt64 = 1) {
        self.settings = settings
        self.nextSequence = max(1, firstSequence)
        interest = CellCounts(cellCount: settings.grid.cellCount)
        remoteNeeds = CellCounts(cellCount: settings.grid.cellCount)
    }

    /// What the shard needs done since the last call, in order.
    public mutating func takeActions() -> [ShardAction] {
        // Nothing to take is the common case (a move into an active cell): no buffer is touched.
        // Else the buffer goes to the caller whole (emptying it in place while the caller holds
        // it would copy it).
        guard !actions.isEmpty else { return [] }
        defer { actions = [] }
        return actions
    }

    // MARK: Reads

    /// The entity, if it is in memory.
    @inlinable public func entity(_ id: EntityID) -> Entity? { entities[id] }

    /// The cell of the entity, if it is in memory. Mutating only to read it in place: a plain read
    /// (`entities.values[index].cell`) copies the whole entity first, retaining and releasing its
    /// stats, whose storage is one more cache miss per request.
    @inlinable public mutating func cell(ofEntity id: EntityID) -> CellID? {
        guard let index = entities.index(forKey: id) else { return nil }
        return Self.inPlace(&entities.values[index]) { $0.cell }
    }

    /// The cell and kind of the entity, if it is in memory (read in place, as `cell(ofEntity:)`).
    @inlinable public mutating func placement(ofEntity id: EntityID) -> (cell: CellID, kind: EntityKind)? {
        guard let index = entities.index(forKey: id) else { return nil }
        return Self.inPlace(&entities.values[index]) { ($0.cell, $0.kind) }
    }

    /// The cell's phase, or nil when it is not in memory.
    /// Reads the phase in place (`cells[cell]?.phase` copies the whole cell, its sets and all).
    /// Whether memory holds `cell` (in any phase). Asked by index: `cells[cell] == nil` copies
    /// the whole cell out (its entity set, properties and events retained and released).
    @inlinable func inMemory(_ cell: CellID) -> Bool { cells.index(forKey: cell) != nil }

    @inlinable public func phase(of cell: CellID) -> CellPhase? {
        guard let index = cells.index(forKey: cell) else { return nil }
        return cells.values[index].phase
    }

    public var loadedCells: [CellID] { cells.keys.sorted() }
    public var activeCells: [CellID] { activeSet.sorted() }
    public var entityCount: Int { entities.count }

    /// Events waiting in a cell's queue.
    public func queuedEvents(in cell: CellID) -> [QueuedEvent] { queues[cell]?.events ?? [] }

    /// True when an event for the entity waits in the cell's queue.
    public func hasQueuedEvents(for id: EntityID, in cell: CellID) -> Bool {
        queues[cell]?.holds(eventsFor: id) ?? false
    }

    /// A cell's contents from memory, or nil when it is not loaded (the shell then answers from
    /// the last checkpoint without loading it). Counts a cache hit or miss.
    public mutating func readCell(_ id: CellID, now: ContinuousClock.Instant) -> CellView? {
        guard let cell = cells[id], cell.phase != .loading else {
            monitor.cacheMisses += 1
            return nil
        }
        monitor.cacheHits += 1
        cells[id]?.lastAccess = now
        return view(of: cell)
    }

    func view(of cell: Cell) -> CellView {
        CellView(
            cell: cell.id, entities: cell.entities.sorted().compactMap { entities[$0] }, properties: cell.properties,
            worldEvents: cell.worldEvents, phase: cell.phase, queuedEvents: queues[cell.id]?.count ?? 0)
    }

    /// Counts an entity leaving memory.
    mutating func noteDeparture(_ id: EntityID) {
        departures &+= 1
        departedAt[id] = departures
    }

    /// Whether the entity left memory after `departures` was `asked` (a storage answer asked
    /// for before then may hold a row older than the state it left with).
    public func departed(_ id: EntityID, since asked: UInt64) -> Bool {
        guard !departedAt.isEmpty, let left = departedAt[id] else { return false }
        return left > asked
    }

    /// Drops the record of departures up to `counter` (no load asked before then is still out).
    public mutating func forgetDepartures(before counter: UInt64) {
        guard !departedAt.isEmpty else { return }
        departedAt = departedAt.filter { $0.value > counter }
    }

    /// Forgets an entity this shard no longer owns (fenced by a newer owner, or handed off).
    public mutating func dropEntity(_ id: EntityID, now: ContinuousClock.Instant) {
        endPresence(id, now: now)
        guard let entity = entities.removeValue(forKey: id) else { return }
        noteDeparture(id)
        cells[entity.cell]?.entities.remove(id)
        dirtyEntities[id] = nil
    }

    /// Takes in an entity handed over by another worker. It is already saved (the handoff stored
    /// it under its new owner epoch), so it is not marked unsaved; a player keeps its cells active.
    public mutating func adoptEntity(_ entity: Entity, now: ContinuousClock.Instant) {
        guard entities[entity.id] == nil, let cell = try? grid.cell(at: entity.position) else { return }
        var placed = entity
        placed.cell = cell
        entities[placed.id] = placed
        ensureLoaded(cell, now: now)
        cells[cell]?.entities.insert(placed.id)
        if placed.kind == .player { notePresence(placed.id, in: cell, previous: nil, now: now) }
    }

    /// Records the owner epoch an entity is now held under (after this worker claimed it).
    public mutating func setOwnerEpoch(_ id: EntityID, _ epoch: UInt64) {
        entities[id]?.ownerEpoch = epoch
    }

    /// Changes in memory not yet in storage: the loss window if the process died now.
    public var unsavedChanges: Int { dirtyEntities.count + dirtyCells.count + unpersistedEvents }
}

/// A cell as a reader sees it.
public struct CellView: Sendable, Equatable {
    public let cell: CellID
    public let entities: [Entity]
    public let properties: [String: String]
    public let worldEvents: [WorldEventRecord]
    /// nil when answered from storage without loading.
    public let phase: CellPhase?
    public let queuedEvents: Int

    public init(
        cell: CellID, entities: [Entity], properties: [String: String], worldEvents: [WorldEventRecord],
        phase: CellPhase?, queuedEvents: Int
    ) {
        self.cell = cell
        self.entities = entities
        self.properties = properties
        self.worldEvents = worldEvents
        self.phase = phase
        self.queuedEvents = queuedEvents
    }
}
