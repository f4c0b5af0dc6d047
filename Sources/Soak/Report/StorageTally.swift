import Wire

/// A run's storage figures (updates applied, write transactions, reads, calls by thread) over
/// every incarnation of every worker. A worker reports its counts since it started, so a worker
/// killed and started again under the same id reports from zero: the tally banks the last
/// figures of the incarnation that ended when a worker's counts go backwards, instead of keeping
/// only the newest incarnation's. (A new incarnation that outgrew the old one's counts before its
/// first poll would go unnoticed; the soak polls every second, and a restart takes longer.)
struct StorageTally {
    struct Counts: Equatable {
        var updates: UInt64 = 0
        var writes: UInt64 = 0
        var reads: UInt64 = 0
        var calls: [String: UInt64] = [:]

        init(updates: UInt64 = 0, writes: UInt64 = 0, reads: UInt64 = 0, calls: [String: UInt64] = [:]) {
            self.updates = updates
            self.writes = writes
            self.reads = reads
            self.calls = calls
        }

        init(_ m: Cellcluster_V1_MonitorSnapshot) {
            self.init(updates: m.eventsApplied, writes: m.dbWrites, reads: m.dbReads, calls: m.storageCallsByThread)
        }

        /// True when some count is below `earlier`'s: these are another process's.
        func wentBack(from earlier: Counts) -> Bool {
            updates < earlier.updates || writes < earlier.writes || reads < earlier.reads
                || earlier.calls.contains { thread, n in (calls[thread] ?? 0) < n }
        }

        mutating func add(_ other: Counts) {
            updates += other.updates
            writes += other.writes
            reads += other.reads
            for (thread, n) in other.calls { calls[thread, default: 0] += n }
        }
    }

    /// Incarnations that ended, added up.
    private var ended = Counts()
    /// Each worker's newest figures.
    private var latest: [String: Counts] = [:]

    /// One status reply's figures for `worker`.
    mutating func note(worker: String, _ counts: Counts) {
        if let previous = latest[worker], counts.wentBack(from: previous) { ended.add(previous) }
        latest[worker] = counts
    }

    /// Every incarnation's figures, added up.
    var total: Counts {
        latest.values.reduce(into: ended) { $0.add($1) }
    }
}
