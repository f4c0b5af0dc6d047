/// Where a turn of a worker's loop spent its time. Taken on every turn (a clock read per phase,
/// nothing allocated); the loop logs a turn that took longer than `slow`, phase by phase, so that
/// a stall names the phase that caused it.
struct TurnTimer {
    /// Turns at least this long are reported.
    static let slow = Duration.milliseconds(200)

    private var started: ContinuousClock.Instant
    private var last: ContinuousClock.Instant
    private var phases: [(name: StaticString, took: Duration)] = []

    init(now: ContinuousClock.Instant = .now) {
        started = now
        last = now
        phases.reserveCapacity(12)
    }

    /// The phase `name` ended now.
    mutating func mark(_ name: StaticString) {
        let now = ContinuousClock.now
        phases.append((name, now - last))
        last = now
    }

    /// The phases of a slow turn, longest first, as "name=ms" pairs (nil: the turn was not slow).
    func report() -> (total: Duration, phases: String)? {
        let total = last - started
        guard total >= Self.slow else { return nil }
        let parts = phases.filter { $0.took >= .milliseconds(1) }.sorted { $0.took > $1.took }
            .map { "\($0.name)=\(Int($0.took.milliseconds))ms" }
        return (total, parts.joined(separator: " "))
    }

    /// Starts the next turn (keeps the storage of the phases).
    mutating func reset(now: ContinuousClock.Instant) {
        started = now
        last = now
        phases.removeAll(keepingCapacity: true)
    }
}
