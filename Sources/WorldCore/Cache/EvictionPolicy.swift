/// The cache policies a worker can combine.
public enum CachePolicy: String, Sendable, CaseIterable, Hashable {
    /// Least recently used cells go first when more than `maxCells` are resident.
    case lru
    /// Cells idle for `ttl` go.
    case ttl
    /// Least recently used cells go first when more than `maxEntities` entities are resident.
    case size
}

/// Chooses which evictable cells leave memory. Pure: the shard and the trace simulator share it.
/// A cell is evicted when any of the chosen policies says so.
public struct EvictionPolicy: Sendable, Equatable {
    public var policies: Set<CachePolicy>
    public var maxCells: Int
    public var ttl: Duration
    public var maxEntities: Int

    public init(policies: Set<CachePolicy>, maxCells: Int, ttl: Duration, maxEntities: Int) {
        self.policies = policies
        self.maxCells = maxCells
        self.ttl = ttl
        self.maxEntities = maxEntities
    }

    /// A cell that may be evicted: resident, not needed by any player, nothing unsaved.
    public struct Candidate: Sendable, Equatable {
        public let cell: CellID
        public let lastAccess: ContinuousClock.Instant
        public let entities: Int
        public init(cell: CellID, lastAccess: ContinuousClock.Instant, entities: Int) {
            self.cell = cell
            self.lastAccess = lastAccess
            self.entities = entities
        }
    }

    /// True when more cells or entities are resident than the LRU or size policy allows: only then
    /// (or when a TTL may have run out) is it worth listing candidates.
    public func overLimit(residentCells: Int, residentEntities: Int) -> Bool {
        policies.contains(.lru) && residentCells > maxCells || policies.contains(.size) && residentEntities > maxEntities
    }

    /// How often idle cells are looked at for the TTL policy when no limit is exceeded.
    public var expiryScanInterval: Duration { min(.seconds(1), ttl / 4) }

    /// The candidates to evict, least recently used first.
    /// - Parameters:
    ///   - residentCells: every cell in memory, evictable or not.
    ///   - residentEntities: every entity in memory.
    public func choose(
        _ candidates: [Candidate], residentCells: Int, residentEntities: Int, now: ContinuousClock.Instant
    ) -> [CellID] {
        guard !candidates.isEmpty else { return [] }
        // Most calls evict nothing: find that out without sorting.
        let overCells = policies.contains(.lru) && residentCells > maxCells
        let overEntities = policies.contains(.size) && residentEntities > maxEntities
        let anyExpired = policies.contains(.ttl) && candidates.contains { now - $0.lastAccess >= ttl }
        guard overCells || overEntities || anyExpired else { return [] }
        let ordered = candidates.sorted { $0.lastAccess < $1.lastAccess || ($0.lastAccess == $1.lastAccess && $0.cell < $1.cell) }
        var cells = residentCells
        var entities = residentEntities
        var chosen: [CellID] = []
        for candidate in ordered {
            let expired = policies.contains(.ttl) && now - candidate.lastAccess >= ttl
            let overCells = policies.contains(.lru) && cells > maxCells
            let overEntities = policies.contains(.size) && entities > maxEntities
            // Later candidates were used more recently and the counts only fall: none of them qualifies.
            guard expired || overCells || overEntities else { break }
            chosen.append(candidate.cell)
            cells -= 1
            entities -= candidate.entities
        }
        return chosen
    }
}
