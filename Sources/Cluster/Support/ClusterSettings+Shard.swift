import Config
import WorldCore

extension ClusterSettings {
    /// The shard's settings from cluster.yml.
    /// - Throws: `WorldError.invalidGrid` (cannot happen for validated settings).
    public func shardSettings() throws(WorldError) -> ShardSettings {
        let grid = try Grid(width: world.width, height: world.height, cellSize: world.cellSize)
        let policies = Set(cache.policies.map { WorldCore.CachePolicy(rawValue: $0.rawValue)! })
        return ShardSettings(
            grid: grid, activeRadius: cache.activeRadius, hysteresis: .milliseconds(cache.hysteresisMs),
            presenceTimeout: .milliseconds(cache.presenceTimeoutMs), queueLimit: events.queueLimit,
            maxUnsavedChanges: checkpoint.maxUnsavedChanges,
            earlyFlushThreshold: checkpoint.batchSize * checkpoint.earlyFlushBatches,
            checkpointMaxRows: checkpoint.maxRows,
            eviction: EvictionPolicy(
                policies: policies, maxCells: cache.maxActiveCells, ttl: .seconds(cache.ttlSeconds),
                maxEntities: cache.maxEntities),
            limits: InputLimits(
                statsPerEntity: limits.maxStatsPerEntity, keyBytes: limits.maxKeyBytes, valueBytes: limits.maxValueBytes,
                eventPayloadBytes: limits.maxEventPayloadBytes, cellStateKeys: limits.maxCellStateKeys,
                batchRequests: limits.maxBatchRequests))
    }

    /// Whether changes of this kind are answered only after they commit.
    public func isDurable(_ kind: WorldCore.EventKind) -> Bool {
        let key: Config.EventKind? = switch kind {
        case .entityMove: .entityMove
        case .entityAction: .entityAction
        case .cellStateChange: .cellStateChange
        case .worldEvent: .worldEvent
        case .entitySpawn: nil
        }
        return key.map { events.durability[$0] == .durable } ?? false
    }
}
