/// The shard's running counts, read through `Shard.monitorSnapshot(now:)`.
struct MonitorCounters: Sendable {
    var dbReads: UInt64 = 0
    var dbWrites: UInt64 = 0
    var cacheHits: UInt64 = 0
    var cacheMisses: UInt64 = 0
    var evictions: UInt64 = 0
    var eventsApplied: UInt64 = 0
    var eventsDeferred: UInt64 = 0
    var eventsReplayed: UInt64 = 0
    var replayRejected: UInt64 = 0
    var loadFailures: UInt64 = 0
    /// Cells loaded ahead of a walking player.
    var prefetches: UInt64 = 0
    var checkpoints: UInt64 = 0
    var checkpointFailures: UInt64 = 0
    var checkpointRows: UInt64 = 0
    var fencedRows: UInt64 = 0
    var deadLetters: UInt64 = 0
    /// The most recent checkpoint durations, for percentiles.
    var checkpointDurations = RecentDurations(capacity: 512)

    mutating func recordCheckpoint(rows: Int, duration: Duration, transactions: Int = 1) {
        checkpoints &+= 1
        checkpointRows &+= UInt64(rows)
        dbWrites &+= UInt64(max(1, transactions))
        checkpointDurations.append(duration)
    }
}

/// A fixed-size ring of durations.
struct RecentDurations: Sendable {
    private var values: [Duration] = []
    private var next = 0
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    mutating func append(_ d: Duration) {
        if values.count < capacity {
            values.append(d)
        } else {
            values[next] = d
            next = (next + 1) % capacity
        }
    }

    /// The p-th percentile (0...1) in milliseconds, or 0 with no samples.
    func percentileMilliseconds(_ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let index = min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))
        return sorted[index].milliseconds
    }
}

extension Duration {
    public var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }

    /// Whole microseconds (negative durations clamp to 0).
    public var wholeMicroseconds: UInt64 {
        guard self > .zero else { return 0 }
        let (seconds, attoseconds) = components
        return UInt64(seconds) * 1_000_000 + UInt64(attoseconds / 1_000_000_000_000)
    }
}
