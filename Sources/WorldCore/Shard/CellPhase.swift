/// Where a cell in memory stands.
public enum CellPhase: Sendable, Equatable {
    /// Storage was asked for it; events for it wait in its queue.
    case loading
    /// Within a present player's radius: events apply at once.
    case active
    /// No player near since `since`; still active until the hysteresis has passed.
    case cooling(since: ContinuousClock.Instant)
    /// In memory as a cache entry but inactive: events queue; it may be evicted once saved.
    case resident

    public var isActive: Bool {
        switch self {
        case .active, .cooling: true
        case .loading, .resident: false
        }
    }
}

/// A world event a cell remembers.
public struct WorldEventRecord: Sendable, Equatable {
    public let name: String
    public let payload: [UInt8]
    public init(name: String, payload: [UInt8]) {
        self.name = name
        self.payload = payload
    }
}

/// One cell's state in memory.
@usableFromInline struct Cell: Sendable {
    let id: CellID
    @usableFromInline var phase: CellPhase
    var entities: Set<EntityID> = []
    var properties: [String: String] = [:]
    var worldEvents: [WorldEventRecord] = []
    /// Last time the cell was needed; what LRU and TTL look at once it is inactive.
    var lastAccess: ContinuousClock.Instant
    /// Bumped by every cell-level change (properties, world events, replays).
    var version: UInt64 = 0
    /// Queued events replayed here whose stored copies the next checkpoint deletes.
    var replayedPending: [UInt64] = []
    /// The entities those replayed events changed: a batch that deletes the stored events must
    /// save these entities too, or a crash after it would lose what the events did.
    var replayedEntities: Set<EntityID> = []
}
