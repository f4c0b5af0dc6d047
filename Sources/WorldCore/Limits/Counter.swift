/// Epochs, versions, action counters and event sequences are unsigned in memory and on the wire
/// but a signed `bigint` in PostgreSQL. A value above `Counter.max` would be stored negative and
/// break the fences that compare it, so every such value that comes from a client, a peer or a
/// stored row is checked against it, and every step forward is checked too: an impossible value
/// is refused with an error that names it, never a trap.
public enum Counter {
    /// The largest value storage holds as a non-negative `bigint`.
    public static let max = UInt64(Int64.max)

    /// `value + 1`, or nil when that would pass `max`.
    @inlinable
    public static func next(_ value: UInt64) -> UInt64? { value < max ? value &+ 1 : nil }

    /// A stored `bigint` as a counter, or nil when it is negative.
    @inlinable
    public static func stored(_ value: Int64) -> UInt64? { value >= 0 ? UInt64(value) : nil }
}

extension Entity {
    /// The first of this entity's counters that has no successor (a value a client, a peer or a
    /// stored row made up), as "field value"; nil when every counter can still step forward.
    public var exhaustedCounter: String? {
        if version >= Counter.max { return "version \(version)" }
        if actions >= Counter.max { return "actions \(actions)" }
        if ownerEpoch >= Counter.max { return "owner_epoch \(ownerEpoch)" }
        return nil
    }
}
