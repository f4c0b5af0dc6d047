/// A moment of the run as whole nanoseconds since a reference instant taken once per process.
/// The generator stores and compares the times of every request in flight many times a second;
/// `ContinuousClock.Instant` does that with 128-bit arithmetic through generic value witnesses,
/// which was a tenth of a lane's time (`DueQueue`, session 13) and again in the request's
/// times (session 28).
struct Moment: Comparable, Hashable {
    var nanos: Int64

    static let reference = ContinuousClock.now
    /// Later than any moment of a run: "none" where a time is optional.
    static let never = Moment(nanos: .max)

    init(nanos: Int64) { self.nanos = nanos }
    init(_ instant: ContinuousClock.Instant) { nanos = Self.reference.duration(to: instant).nanoseconds }

    static var now: Moment { Moment(.now) }

    static func < (a: Moment, b: Moment) -> Bool { a.nanos < b.nanos }
    /// (`Duration`'s parts are 128-bit: a constant duration is better added with `after(milliseconds:)`.)
    static func + (m: Moment, d: Duration) -> Moment { Moment(nanos: m.nanos &+ d.nanoseconds) }
    static func += (m: inout Moment, d: Duration) { m.nanos &+= d.nanoseconds }
    func after(milliseconds: Int) -> Moment { Moment(nanos: nanos &+ Int64(milliseconds) &* 1_000_000) }
    static func - (m: Moment, d: Duration) -> Moment { Moment(nanos: m.nanos &- d.nanoseconds) }
    /// Whole nanoseconds from `b` to this moment.
    func nanos(since b: Moment) -> Int64 { nanos &- b.nanos }
    /// Whole microseconds from `b` to `a` (0 when `a` is earlier).
    func micros(since b: Moment) -> UInt64 { UInt64(max(0, nanos(since: b) / 1000)) }
}
