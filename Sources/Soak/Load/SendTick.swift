/// A game server's tick for the load generator: new requests leave at most once per `every`,
/// all those due by then together. A turn that comes late sends at once and the next tick is a
/// whole period after it: a late generator does not make up for lost ticks in a burst.
struct SendTick {
    let every: Duration
    private var next: Moment

    /// `every` zero or less: every turn sends.
    init(every: Duration, start: Moment) {
        self.every = every
        next = start
    }

    /// When the next tick opens (nil: every turn sends).
    var nextOpening: Moment? { every > .zero ? next : nil }

    /// True when a turn at `now` sends what is due (and the tick moves on).
    mutating func opens(now: Moment) -> Bool {
        guard every > .zero else { return true }
        guard now >= next else { return false }
        next += every
        if next <= now { next = now + every }
        return true
    }
}
