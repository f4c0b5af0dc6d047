/// Counters that each worker reports since it started (answers, CPU time, durable commits),
/// added up over the polls of a load: per incarnation, the change between its first and its last
/// poll. A worker killed and started again under its id reports from zero, so a count that goes
/// backwards starts a new incarnation instead of subtracting.
struct IncarnationSums {
    private struct Segment {
        var first: [UInt64]
        var last: [UInt64]
        var change: [UInt64] { zip(first, last).map { $1 - $0 } }
    }
    /// Per worker: the incarnations that ended, added up, and the open one.
    private var closed: [String: [UInt64]] = [:]
    private var open: [String: Segment] = [:]

    /// One poll's counts for `worker` (always the same number of them, in the same order).
    mutating func note(worker: String, _ counts: [UInt64]) {
        if let s = open[worker], s.last.count == counts.count, !zip(counts, s.last).contains(where: { $0 < $1 }) {
            open[worker]!.last = counts
            return
        }
        if let s = open[worker] { Self.add(s.change, of: worker, to: &closed) }  // a new incarnation
        open[worker] = Segment(first: counts, last: counts)
    }

    /// Each worker's counted change, over all its incarnations.
    var byWorker: [String: [UInt64]] {
        var sums = closed
        for (worker, s) in open { Self.add(s.change, of: worker, to: &sums) }
        return sums
    }

    /// Every worker's counted change, added up (empty when nothing was noted).
    var total: [UInt64] {
        byWorker.values.reduce(into: [UInt64]()) { sum, counts in
            if sum.isEmpty { sum = counts } else { sum = zip(sum, counts).map { $0 + $1 } }
        }
    }

    private static func add(_ change: [UInt64], of worker: String, to sums: inout [String: [UInt64]]) {
        if let old = sums[worker], old.count == change.count {
            sums[worker] = zip(old, change).map { $0 + $1 }
        } else {
            sums[worker] = change
        }
    }
}
