/// Where a durable change's time went in the workers, over the load: how long it waited for its
/// commit to start and how long the commit took, on average, from the counts every status reply
/// carries (`MonitorSnapshot.durable_*`), added up over each worker incarnation's polls.
struct DurableAccount {
    /// Per worker: changes, commits, queued µs, commit µs.
    private var workers = IncarnationSums()

    /// One status reply's figures for `worker`.
    mutating func note(worker: String, changes: UInt64, commits: UInt64, queuedUs: UInt64, commitUs: UInt64) {
        workers.note(worker: worker, [changes, commits, queuedUs, commitUs])
    }

    /// Nil when no durable change committed during the load (or the workers do not report them).
    var report: SoakReport.Durable? {
        let t = workers.total
        guard t.count == 4, t[0] > 0 else { return nil }
        return SoakReport.Durable(changes: t[0], commits: t[1], queuedMsMean: Double(t[2]) / Double(t[0]) / 1000,
                                  commitMsMean: Double(t[3]) / Double(t[0]) / 1000)
    }
}
