import Testing
@testable import Cluster
@testable import WorldCore

@Suite struct UnstoredDurableTests {
    static let t0 = ContinuousClock.now
    static func key(_ id: UInt64) -> RequestLog.Key { RequestLog.Key(requestID: id, sender: "client") }

    @Test func anEntityIsHeldWhileACommitIsInFlightAndAfterOneFailedUntilARetryIsStored() {
        var u = UnstoredDurable(retention: .seconds(60))
        let x = EntityID(1), y = EntityID(2)
        u.submitted(1, key: Self.key(10), entities: [x])
        u.submitted(2, key: Self.key(11), entities: [x, y])
        #expect(u.holds(x, now: Self.t0) && u.holds(y, now: Self.t0))
        u.finished(2, stored: true, now: Self.t0)
        #expect(u.holds(x, now: Self.t0) && !u.holds(y, now: Self.t0))  // x's first commit is still out
        u.finished(1, stored: false, now: Self.t0)
        #expect(u.holds(x, now: Self.t0))  // failed: its id is not stored
        // A second failed change, then the first one's retry is stored: the second still holds x.
        u.submitted(3, key: Self.key(12), entities: [x])
        u.finished(3, stored: false, now: Self.t0)
        u.submitted(4, key: Self.key(10), entities: [x])
        u.finished(4, stored: true, now: Self.t0)
        #expect(u.holds(x, now: Self.t0))
        u.submitted(5, key: Self.key(12), entities: [x])
        u.finished(5, stored: true, now: Self.t0)
        #expect(!u.holds(x, now: Self.t0) && u.isEmpty)
        // A failure nobody retries holds its entity for the retention window only.
        u.submitted(6, key: Self.key(13), entities: [y])
        u.finished(6, stored: false, now: Self.t0)
        #expect(u.holds(y, now: Self.t0 + .seconds(59)))
        #expect(!u.holds(y, now: Self.t0 + .seconds(60)))
        u.expire(now: Self.t0 + .seconds(59))
        #expect(!u.isEmpty)
        u.expire(now: Self.t0 + .seconds(60))
        #expect(u.isEmpty)
        // A finish nobody submitted, and a change to no entity, change nothing.
        u.finished(99, stored: false, now: Self.t0)
        u.submitted(7, key: Self.key(14), entities: [])
        #expect(u.isEmpty)
    }
}
