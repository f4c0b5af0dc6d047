/// A shard's performance figures at one instant: what status commands and metrics show.
public struct MonitorSnapshot: Sendable, Equatable {
    public var dbReads: UInt64
    public var dbWrites: UInt64
    public var cacheHits: UInt64
    public var cacheMisses: UInt64
    public var evictions: UInt64
    public var eventsApplied: UInt64
    public var eventsDeferred: UInt64
    public var eventsReplayed: UInt64
    public var replayRejected: UInt64
    public var loadFailures: UInt64
    /// Cells loaded ahead of a walking player.
    public var prefetches: UInt64
    public var checkpoints: UInt64
    public var checkpointFailures: UInt64
    public var checkpointRows: UInt64
    /// Rows storage refused because a newer owner wrote them (this shard was fenced).
    public var fencedRows: UInt64
    /// Rows set aside in the dead-letter table.
    public var deadLetters: UInt64
    public var checkpointP50Ms: Double
    public var checkpointP99Ms: Double
    /// Age of the oldest change not yet in storage: the loss window if the process died now.
    public var oldestUnsavedAgeMs: Double
    public var unsavedChanges: Int
    public var loadedCells: Int
    public var activeCells: Int
    public var entities: Int
    public var presentPlayers: Int

    public var dbIO: UInt64 { dbReads + dbWrites }
    public var hitRate: Double {
        let total = cacheHits + cacheMisses
        return total == 0 ? 0 : Double(cacheHits) / Double(total)
    }
}

extension Shard {
    public func monitorSnapshot(now: ContinuousClock.Instant) -> MonitorSnapshot {
        let m = monitor
        return MonitorSnapshot(
            dbReads: m.dbReads, dbWrites: m.dbWrites, cacheHits: m.cacheHits, cacheMisses: m.cacheMisses,
            evictions: m.evictions, eventsApplied: m.eventsApplied, eventsDeferred: m.eventsDeferred,
            eventsReplayed: m.eventsReplayed, replayRejected: m.replayRejected, loadFailures: m.loadFailures, prefetches: m.prefetches,
            checkpoints: m.checkpoints, checkpointFailures: m.checkpointFailures, checkpointRows: m.checkpointRows,
            fencedRows: m.fencedRows, deadLetters: m.deadLetters,
            checkpointP50Ms: m.checkpointDurations.percentileMilliseconds(0.5),
            checkpointP99Ms: m.checkpointDurations.percentileMilliseconds(0.99),
            oldestUnsavedAgeMs: oldestUnsavedAge(now: now)?.milliseconds ?? 0,
            unsavedChanges: unsavedChanges, loadedCells: cells.count,
            activeCells: activeSet.count,  // kept by setPhase: no walk over every cell (each one copied)
            entities: entities.count, presentPlayers: presence.count)
    }

    /// Counts storage reads the shell made on the shard's behalf (reads of unloaded cells).
    public mutating func noteStorageRead() { monitor.dbReads &+= 1 }
}
