import WorldCore

/// A worker's durable commits since it started, for its status reply: how many changes committed,
/// in how many commits, and how long they waited and were written (summed over the changes, so
/// that the changes' mean comes out of two polls' difference).
public struct DurableTimes: Sendable, Equatable {
    public private(set) var changes: UInt64 = 0
    public private(set) var commits: UInt64 = 0
    /// From each change's hand-over to the writer to its commit's start.
    public private(set) var queuedMicroseconds: UInt64 = 0
    /// Each change's commit, from its start to its end.
    public private(set) var commitMicroseconds: UInt64 = 0

    public init() {}

    /// A durable change whose commit succeeded; `leadsGroup`: the first change of its commit.
    mutating func committed(queued: Duration, duration: Duration, leadsGroup: Bool) {
        changes &+= 1
        if leadsGroup { commits &+= 1 }
        queuedMicroseconds &+= queued.wholeMicroseconds
        commitMicroseconds &+= duration.wholeMicroseconds
    }
}
