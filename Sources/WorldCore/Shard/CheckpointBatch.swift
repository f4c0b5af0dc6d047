/// Everything a checkpoint writes, taken from the shard in one go: the latest state of every
/// unsaved entity (so K updates to one entity are one row), cell records, newly queued events
/// and the queued events that were replayed. Written in one transaction.
public struct CheckpointBatch: Sendable, Equatable {
    public let id: UInt64
    /// The shard's ownership epoch when the batch was taken: storage fences writes under it.
    public let epoch: UInt64
    public let entities: [Entity]
    public let cells: [CellRecord]
    public let newEvents: [QueuedEvent]
    /// When the oldest change in this batch was made.
    public let oldestChange: ContinuousClock.Instant?
    /// Cells this batch gives away (their last state is in it): storage names the new owner in
    /// the same transaction.
    public var transfers: [CellTransfer] = []
    /// The request ids of the durable changes in this batch, stored with them.
    public var requests: [AppliedRequest] = []
    /// Whether some of `requests` were carried from earlier writes whose commit is in flight or
    /// failed (`UnstoredRequests`): one of those may have stored them first. Storage inserts the
    /// ids of a batch without it with a plain insert.
    public var requestsMayBeStored = false
    /// Entities of `entities` that a release writes only when their stored row names one of the
    /// cells it gives away (read in its transaction): the unsaved entities outside those cells.
    /// One that moved out of a given cell since its last save must not stay stored there, or the
    /// receiver would load it as a second copy; the others stay unsaved (`WriteReport.leftOut`)
    /// and go out with the next checkpoint. Without this, a release at saturation wrote every
    /// unsaved entity of the worker (~10,000 rows for a few cells, seconds of writing).
    public var optionalEntities: Set<EntityID> = []
    /// When the shard took it: once it commits, whatever of its rows changed since is unsaved
    /// only from then on (nil for batches built outside a shard).
    public let takenAt: ContinuousClock.Instant?

    public var rowCount: Int { entities.count + cells.count + newEvents.count }
    public var isEmpty: Bool { rowCount == 0 && transfers.isEmpty && requests.isEmpty }

    /// This batch with only the entities `keep` says yes to (and no optional ones left over).
    public func keepingEntities(_ keep: (Entity) -> Bool) -> CheckpointBatch {
        var kept = CheckpointBatch(id: id, epoch: epoch, entities: entities.filter(keep), cells: cells, newEvents: newEvents,
                                   oldestChange: oldestChange, takenAt: takenAt)
        kept.transfers = transfers
        kept.requests = requests
        kept.requestsMayBeStored = requestsMayBeStored
        kept.optionalEntities = optionalEntities.intersection(kept.entities.map(\.id))
        return kept
    }

    public init(id: UInt64, epoch: UInt64 = 1, entities: [Entity], cells: [CellRecord], newEvents: [QueuedEvent], oldestChange: ContinuousClock.Instant?,
                takenAt: ContinuousClock.Instant? = nil) {
        self.id = id
        self.takenAt = takenAt
        self.epoch = epoch
        self.entities = entities
        self.cells = cells
        self.newEvents = newEvents
        self.oldestChange = oldestChange
    }

    /// This batch as batches of at most `rows` entities each, to be committed one after the
    /// other (durable commits waiting meanwhile go between them): the first carries the cells
    /// and queued events. The whole batch alone when it has at most `rows` entities (or `rows`
    /// is 0), or when part of it must commit together: cells given away, optional rows of a
    /// release, replayed events to delete (their entities commit with the deletion). Entity rows
    /// are independent of each other otherwise: each is fenced on its own. A request id goes
    /// with the slice that writes what its condition checks: its entity's row, else the first
    /// (cells and queued events).
    public func slices(ofEntities rows: Int) -> [CheckpointBatch] {
        guard rows > 0, entities.count > rows, transfers.isEmpty, optionalEntities.isEmpty,
              !cells.contains(where: { !$0.replayedEvents.isEmpty }) else { return [self] }
        var sliceOf: [EntityID: Int] = [:]
        if !requests.isEmpty {
            for (index, entity) in entities.enumerated() { sliceOf[entity.id] = index / rows }
        }
        return stride(from: 0, to: entities.count, by: rows).map { start in
            let part = Array(entities[start..<min(start + rows, entities.count)])
            var slice = CheckpointBatch(id: id, epoch: epoch, entities: part, cells: start == 0 ? cells : [],
                                        newEvents: start == 0 ? newEvents : [], oldestChange: oldestChange, takenAt: takenAt)
            slice.requests = requests.filter { request in
                guard case .entity? = request.condition, let entity = request.entity, let index = sliceOf[entity] else { return start == 0 }
                return index == start / rows
            }
            slice.requestsMayBeStored = requestsMayBeStored
            return slice
        }
    }
}

/// A cell leaving this shard for another worker.
public struct CellTransfer: Sendable, Equatable {
    public let cell: CellID
    public let to: String
    public init(cell: CellID, to: String) {
        self.cell = cell
        self.to = to
    }
}

/// A cell's own row: its properties, the world events it remembers, and the queued events that
/// were replayed since the last checkpoint (deleted from storage in the same transaction, so a
/// crash never replays an event twice).
public struct CellRecord: Sendable, Equatable {
    public let cell: CellID
    public let version: UInt64
    public let properties: [String: String]
    public let worldEvents: [WorldEventRecord]
    public let entityCount: Int
    public let replayedEvents: [UInt64]
    /// The cell ownership epoch of the writer (fencing).
    public let ownerEpoch: UInt64

    public init(cell: CellID, version: UInt64, properties: [String: String], worldEvents: [WorldEventRecord], entityCount: Int, replayedEvents: [UInt64], ownerEpoch: UInt64) {
        self.cell = cell
        self.version = version
        self.properties = properties
        self.worldEvents = worldEvents
        self.entityCount = entityCount
        self.replayedEvents = replayedEvents
        self.ownerEpoch = ownerEpoch
    }
}

/// What storage holds for one cell: the input to `Shard.cellLoaded`.
public struct CellCheckpoint: Sendable, Equatable {
    public let cell: CellID
    public let entities: [Entity]
    public let properties: [String: String]
    public let worldEvents: [WorldEventRecord]
    /// Stored queued events of the cell (none of them replayed yet), in sequence order.
    public let events: [QueuedEvent]
    /// The stored request ids of durable changes to its entities and to the cell: whoever loads
    /// the cell answers their retries from these (the shard itself does not use them).
    public var requests: [AppliedRequest]

    public init(cell: CellID, entities: [Entity] = [], properties: [String: String] = [:], worldEvents: [WorldEventRecord] = [],
                events: [QueuedEvent] = [], requests: [AppliedRequest] = []) {
        self.cell = cell
        self.entities = entities
        self.properties = properties
        self.worldEvents = worldEvents
        self.events = events
        self.requests = requests
    }
}
