/// Replays an access trace against an eviction policy, the way a worker would: cells a player
/// needs now are pinned; the rest stay resident until the policy evicts them. A miss is a load
/// from the database.
public enum CacheSimulator {
    public struct Result: Sendable, Equatable {
        public var accesses = 0
        public var hits = 0
        public var misses = 0
        public var evictions = 0
        /// Most cells resident at once: the memory a policy costs.
        public var peakResident = 0
        public var hitRate: Double { accesses == 0 ? 0 : Double(hits) / Double(accesses) }
    }

    /// - Parameter entitiesPerCell: how many entities a cell holds (for the SIZE policy).
    public static func run(
        _ trace: AccessTrace, policy: EvictionPolicy, entitiesPerCell: (CellID) -> Int = { _ in 4 }
    ) -> Result {
        let start = ContinuousClock.now
        var resident: [CellID: ContinuousClock.Instant] = [:]
        var residentEntities = 0
        var previous = Set<CellID>()
        var result = Result()
        for step in trace.steps {
            let now = start + step.time
            let needed = Set(step.cells)
            // An access is a cell entering some player's window: it must be in memory now.
            for cell in step.cells where !previous.contains(cell) {
                result.accesses += 1
                if resident[cell] != nil {
                    result.hits += 1
                } else {
                    result.misses += 1
                    residentEntities += entitiesPerCell(cell)
                }
            }
            for cell in step.cells { resident[cell] = now }
            previous = needed
            result.peakResident = max(result.peakResident, resident.count)
            let candidates = resident.compactMap { cell, last in
                previous.contains(cell) ? nil
                    : EvictionPolicy.Candidate(cell: cell, lastAccess: last, entities: entitiesPerCell(cell))
            }
            for cell in policy.choose(candidates, residentCells: resident.count, residentEntities: residentEntities, now: now) {
                resident[cell] = nil
                residentEntities -= entitiesPerCell(cell)
                result.evictions += 1
            }
        }
        return result
    }
}
