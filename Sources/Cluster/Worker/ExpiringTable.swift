/// Values by key, each kept for `lifetime` from when it was last set: a dictionary, and a queue
/// of due times in the order values were set, whose front goes first. A key set again has a
/// newer stamp, so its older entry in the queue leaves nothing when it comes due.
struct ExpiringTable<Key: Hashable, Value> {
    private struct Slot {
        var value: Value
        var stamp: UInt64
    }

    private struct Due {
        let key: Key
        let stamp: UInt64
        let at: ContinuousClock.Instant
    }

    private var slots: [Key: Slot] = [:]
    private var due: [Due] = []
    private var head = 0
    private var stamp: UInt64 = 0
    let lifetime: Duration

    init(lifetime: Duration) {
        self.lifetime = lifetime
    }

    var count: Int { slots.count }
    var isEmpty: Bool { slots.isEmpty }

    subscript(key: Key) -> Value? { slots[key]?.value }

    /// Sets `key`'s value, kept for `lifetime` from `now`.
    mutating func set(_ key: Key, _ value: Value, now: ContinuousClock.Instant) {
        stamp &+= 1
        slots[key] = Slot(value: value, stamp: stamp)
        due.append(Due(key: key, stamp: stamp, at: now + lifetime))
    }

    /// Forgets what has been kept for `lifetime` by `now`.
    mutating func expire(now: ContinuousClock.Instant) {
        while head < due.count, due[head].at <= now {
            let entry = due[head]
            if slots[entry.key]?.stamp == entry.stamp { slots[entry.key] = nil }
            head += 1
        }
        if head >= 4_096 && head * 2 >= due.count {
            due.removeFirst(head)
            head = 0
        }
    }

    /// Forgets `key` now (its due entry leaves nothing when it comes due).
    mutating func remove(_ key: Key) { slots[key] = nil }

    mutating func removeAll() {
        slots = [:]
        due = []
        head = 0
    }
}
