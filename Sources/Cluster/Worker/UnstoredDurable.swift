import WorldCore

/// Entities with durable changes applied here whose request ids storage may not hold yet: the
/// commit is in flight, or it failed (the change stays applied in memory, and a retry writes it
/// again). Such an entity is not handed to another worker until its ids are stored.
///
/// The target's claim reads the entity's stored request ids, and the target answers retries from
/// them. An id stored after that read (a commit queued behind a checkpoint on this worker's writer
/// while the claim went through) or never (a failed commit) was unknown there, and a retry of that
/// change at the target applied it a second time: the offered state held it already
/// (`ExactlyOnceHandoffTests`).
///
/// A failed change holds its entity until a retry commits it, or for the retention window
/// (`events.request_retention_s`), after which its id is not promised anywhere.
struct UnstoredDurable {
    private struct Commit {
        let key: RequestLog.Key
        let entities: [EntityID]
    }

    /// Commits in flight, by ticket.
    private var commits: [UInt64: Commit] = [:]
    /// How many commits in flight each entity has.
    private var inFlight: [EntityID: Int] = [:]
    /// Failed changes by entity: their keys and when they failed.
    private var failed: [EntityID: [RequestLog.Key: ContinuousClock.Instant]] = [:]
    let retention: Duration

    init(retention: Duration) {
        self.retention = retention
    }

    var isEmpty: Bool { inFlight.isEmpty && failed.isEmpty }

    /// A durable change `key` to `entities` went to the writer under `ticket`.
    mutating func submitted(_ ticket: UInt64, key: RequestLog.Key, entities: [EntityID]) {
        guard !entities.isEmpty else { return }
        commits[ticket] = Commit(key: key, entities: entities)
        for id in entities { inFlight[id, default: 0] += 1 }
    }

    /// The commit under `ticket` finished.
    mutating func finished(_ ticket: UInt64, stored: Bool, now: ContinuousClock.Instant) {
        guard let commit = commits.removeValue(forKey: ticket) else { return }
        for id in commit.entities {
            if let n = inFlight[id], n > 1 { inFlight[id] = n - 1 } else { inFlight[id] = nil }
            if stored {
                guard !failed.isEmpty, failed[id]?.removeValue(forKey: commit.key) != nil else { continue }
                if failed[id]?.isEmpty == true { failed[id] = nil }
            } else {
                failed[id, default: [:]][commit.key] = now
            }
        }
    }

    /// Whether `id` has a change whose id storage may not hold (a failure within the retention
    /// window).
    func holds(_ id: EntityID, now: ContinuousClock.Instant) -> Bool {
        if inFlight[id] != nil { return true }
        return failed[id]?.values.contains { now - $0 < retention } ?? false
    }

    /// Forgets failures older than the retention window.
    mutating func expire(now: ContinuousClock.Instant) {
        guard !failed.isEmpty else { return }
        for (id, keys) in failed {
            let kept = keys.filter { now - $0.value < retention }
            failed[id] = kept.isEmpty ? nil : kept
        }
    }

    /// After this worker was fenced and forgot everything it held.
    mutating func removeAll() {
        commits = [:]
        inFlight = [:]
        failed = [:]
    }
}
