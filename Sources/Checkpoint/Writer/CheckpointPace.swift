import WorldCore

/// How many entity rows the next checkpoint takes: as many as the recent checkpoints wrote in a
/// quarter of the interval, up to `checkpoint.max_rows`. A backlog then goes out in short
/// writes, the longest unsaved first, and a worker whose oldest change reached the loss window
/// waits at most one short write for it to commit, however slow PostgreSQL is at the moment
/// (a takeover's loads, a busy machine). Pure; the checkpointer feeds it each periodic write.
public struct CheckpointPace: Sendable, Equatable {
    /// How long one checkpoint should take.
    public let target: Duration
    /// The configured ceiling (`checkpoint.max_rows`).
    public let maxRows: Int
    /// Fewer rows than this are not worth a transaction of their own (unless `maxRows` is lower).
    /// Also a floor against a spiral: a write's fixed cost (round trip, commit) counts in its
    /// rows per second, so against a very slow database each limit would come out smaller.
    public static let minimumRows = 500
    /// Rows per second of the recent periodic checkpoints (nil until one finished).
    public private(set) var rowsPerSecond: Double?
    /// The slowest recent periodic write: a slower one counts at once, and it fades by a fifth
    /// with each write after it.
    public private(set) var slowWrite: Duration = .zero

    public init(target: Duration, maxRows: Int) {
        self.target = target
        self.maxRows = max(1, maxRows)
    }

    /// A periodic checkpoint of `rows` rows took `duration`.
    public mutating func wrote(rows: Int, in duration: Duration) {
        slowWrite = max(duration, slowWrite * 0.8)
        let seconds = duration.milliseconds / 1000
        guard rows > 0, seconds > 0 else { return }
        let rate = Double(rows) / seconds
        rowsPerSecond = rowsPerSecond.map { 0.5 * $0 + 0.5 * rate } ?? rate
    }

    /// How long before the loss window's limit a worker closes its intake: the slowest recent
    /// write, at most a quarter of the window. The write that brings the window back down then
    /// starts before the limit is reached rather than at it, and a slow write at that moment
    /// (a takeover's claims, a busy machine) does not carry the window as far past the limit.
    public func intakeLead(window: Duration) -> Duration { min(window / 4, slowWrite) }

    /// Entity rows the next checkpoint takes at most.
    public var rowLimit: Int {
        guard let rate = rowsPerSecond else { return maxRows }
        let rows = min(Double(maxRows), rate * target.milliseconds / 1000)
        return min(maxRows, max(Self.minimumRows, Int(rows)))
    }
}
