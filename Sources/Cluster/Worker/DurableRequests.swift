/// The request ids of durable changes and spawns this worker knows were applied, kept for the
/// retention window (`events.request_retention_s`), the time storage keeps them too:
/// - those it applied itself, from the moment it applies one (its commit in flight, or failed:
///   a retry writes it again, never applies it again) and then with the reply it committed;
/// - those storage handed back: with a handoff's claim, with a cell's load (changes to the cell
///   itself), and for the keys it looked up (a durable change to an entity it took from storage:
///   `WorkerNode+StoredKeys`), answered to a retry of a change another worker made.
///
/// The request log (`RequestLog`) keeps the last N answers of every kind, and that is not enough
/// here: a burst of moves, or of ids loaded in a takeover, pushes older entries out. In a
/// 10-minute soak a survivor that took over the whole world loaded about 300,000 stored ids into
/// its 262,144-entry log, and a retry that came next found its own gone: the action was applied
/// twice. Ids here leave only when their time is up.
///
/// Bounded: at `capacity` entries, new durable changes are refused (retryable) until old ones
/// expire (`isFull`); what storage hands back is always kept (it is bounded by what storage
/// holds within the same window).
struct DurableRequests {
    enum State: Equatable {
        /// Applied here, its commit in flight or failed.
        case awaiting
        /// Stored: the serialized `Reply` it was (or is to be) answered with.
        case stored([UInt8])
    }

    private var table: ExpiringTable<RequestLog.Key, State>
    let capacity: Int

    init(retention: Duration, capacity: Int = 1_000_000) {
        table = ExpiringTable(lifetime: retention)
        self.capacity = max(1, capacity)
    }

    var retention: Duration { table.lifetime }
    var count: Int { table.count }
    var isEmpty: Bool { table.isEmpty }
    /// At capacity: no new durable change is taken until some expire.
    var isFull: Bool { table.count >= capacity }

    func state(_ key: RequestLog.Key) -> State? { table[key] }

    /// A change applied here (`awaiting`), or its reply once committed (`stored`); kept for the
    /// retention window from `now`.
    mutating func record(_ key: RequestLog.Key, _ state: State, now: ContinuousClock.Instant) {
        table.set(key, state, now: now)
    }

    /// A stored reply storage handed back. A change of this worker's own that is still awaiting
    /// its commit stays as it is (a retry joins or rewrites that commit).
    mutating func remember(_ key: RequestLog.Key, reply: [UInt8], now: ContinuousClock.Instant) {
        guard table[key] == nil else { return }
        record(key, .stored(reply), now: now)
    }

    /// Forgets a change of this worker's own that storage did not store after all (fenced by a
    /// newer owner, and dropped from memory with its entity): a retry is a new change.
    mutating func forget(_ key: RequestLog.Key) { table.remove(key) }

    /// Forgets what has been kept for the retention window by `now`.
    mutating func expire(now: ContinuousClock.Instant) { table.expire(now: now) }

    /// After this worker was fenced and forgot everything it held.
    mutating func removeAll() { table.removeAll() }
}
