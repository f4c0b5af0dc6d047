/// The memory-first manager: updates go to memory and wait for the checkpoint; reads go to
/// memory, then to storage on a miss. Performs the shard's actions against a `WorldStore`
/// synchronously (loads inline; a worker's checkpoint writer runs on its own thread instead).
public struct WorldManager {
    public private(set) var shard: Shard
    public let store: any WorldStore
    /// Actions the manager did not handle itself (deactivations, evictions, rejected replays,
    /// checkpoint requests), for the owner to log or act on.
    public private(set) var notices: [ShardAction] = []

    public init(shard: Shard, store: any WorldStore) {
        self.shard = shard
        self.store = store
    }

    /// Applies or queues an event, loading any cell it makes active.
    public mutating func apply(_ event: GameEvent, to cell: CellID, now: ContinuousClock.Instant) throws(WorldError) -> EventOutcome {
        let outcome = try shard.apply(event, to: cell, now: now)
        performActions(now: now)
        return outcome
    }

    /// An entity from memory, or its last saved state.
    public mutating func entity(_ id: EntityID) throws -> Entity? {
        if let entity = shard.entity(id) { return entity }
        shard.noteStorageRead()
        return try store.loadEntity(id)
    }

    /// A cell from memory, or, without loading it, from its last checkpoint.
    public mutating func cell(_ id: CellID, now: ContinuousClock.Instant) throws -> CellView {
        if let view = shard.readCell(id, now: now) { return view }
        shard.noteStorageRead()
        let saved = try store.loadCell(id)
        return CellView(
            cell: id, entities: saved.entities, properties: saved.properties, worldEvents: saved.worldEvents,
            phase: nil, queuedEvents: shard.queuedEvents(in: id).count + saved.events.count)
    }

    public mutating func tick(now: ContinuousClock.Instant) {
        shard.tick(now: now)
        performActions(now: now)
    }

    /// Writes everything unsaved in one batch. Returns false when the write failed (it stays unsaved).
    @discardableResult
    public mutating func checkpoint(now: ContinuousClock.Instant) -> Bool {
        guard let batch = shard.takeCheckpoint(now: now) else { return true }
        let start = ContinuousClock.now
        do {
            let report = try store.write(batch)
            shard.checkpointSucceeded(batch, report: report, duration: ContinuousClock.now - start, now: now)
            return true
        } catch {
            shard.checkpointFailed(batch)
            return false
        }
    }

    public mutating func takeNotices() -> [ShardAction] {
        defer { notices.removeAll() }
        return notices
    }

    private mutating func performActions(now: ContinuousClock.Instant) {
        var pending = shard.takeActions()
        while !pending.isEmpty {
            for action in pending {
                switch action {
                case .load(let cell):
                    do {
                        shard.cellLoaded(try store.loadCell(cell), now: now)
                    } catch {
                        shard.loadFailed(cell)
                    }
                default:
                    notices.append(action)
                }
            }
            pending = shard.takeActions()  // a load may activate players and ask for more
        }
    }
}
