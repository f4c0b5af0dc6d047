/// Decides when a shard checkpoints: every interval, at once when asked (the backlog reached the
/// early-flush size, or the cache waits to evict), and after a failure with capped exponential
/// backoff. Pure; the worker asks it on every turn of its loop.
///
/// The interval runs from one checkpoint's start to the next one's, not from the end of the
/// last one: a change made just after a checkpoint was taken waits at most an interval plus the
/// write, not the write, an interval and a second write.
public struct CheckpointScheduler: Sendable {
    public let interval: Duration
    public let retryInitial: Duration
    public let retryMax: Duration
    public private(set) var nextDue: ContinuousClock.Instant
    /// Consecutive failures; 0 after a success.
    public private(set) var failures = 0
    public private(set) var inFlight = false
    private var earlyRequested = false
    /// When the checkpoint in flight (or the last one) started.
    private var startedAt: ContinuousClock.Instant?

    public init(interval: Duration, retryInitial: Duration, retryMax: Duration, now: ContinuousClock.Instant) {
        self.interval = interval
        self.retryInitial = retryInitial
        self.retryMax = retryMax
        self.nextDue = now + interval
    }

    /// Asks for a checkpoint as soon as none is running (and no backoff is pending).
    public mutating func requestEarly() { earlyRequested = true }

    public func isDue(now: ContinuousClock.Instant) -> Bool {
        guard !inFlight else { return false }
        if failures > 0 { return now >= nextDue }
        return earlyRequested || now >= nextDue
    }

    /// How long the owner may sleep before the next checkpoint is due.
    public func timeUntilDue(now: ContinuousClock.Instant) -> Duration {
        if inFlight { return interval }
        if earlyRequested && failures == 0 { return .zero }
        return max(.zero, nextDue - now)
    }

    public mutating func started(now: ContinuousClock.Instant? = nil) {
        inFlight = true
        earlyRequested = false
        startedAt = now
    }

    /// Nothing was unsaved: the next checkpoint is one interval away.
    public mutating func skipped(now: ContinuousClock.Instant) {
        inFlight = false
        nextDue = now + interval
    }

    /// The next one is due an interval after this one started (at once if the write took longer).
    public mutating func succeeded(now: ContinuousClock.Instant) {
        inFlight = false
        failures = 0
        nextDue = min(now, startedAt ?? now) + interval
    }

    /// The next checkpoint is due by `instant` at the latest (not after a failure: its backoff
    /// stands).
    public mutating func due(by instant: ContinuousClock.Instant) {
        guard failures == 0, !inFlight else { return }
        nextDue = min(nextDue, instant)
    }

    /// - Returns: the backoff before the next attempt.
    @discardableResult
    public mutating func failed(now: ContinuousClock.Instant) -> Duration {
        inFlight = false
        failures += 1
        let backoff = min(retryMax, retryInitial * (1 << min(failures - 1, 30)))
        nextDue = now + backoff
        return backoff
    }
}
