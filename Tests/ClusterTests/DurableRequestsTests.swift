import Testing
@testable import Cluster

/// The ids of durable changes: kept for the retention window whatever else is recorded, then
/// gone; a stored reply from storage never replaces a change of this worker's own.
@Suite struct DurableRequestsTests {
    static let start = ContinuousClock.now

    @Test func idsStayForTheRetentionWindowHoweverManyComeAfterThem() {
        var table = DurableRequests(retention: .seconds(60))
        let first = RequestLog.key(sender: "a", requestID: 1)
        table.record(first, .stored([1]), now: Self.start)
        for i in UInt64(2)...300_000 { table.remember(RequestLog.key(sender: "b", requestID: i), reply: [2], now: Self.start + .seconds(10)) }
        table.expire(now: Self.start + .seconds(59))
        #expect(table.state(first) == .stored([1]))
        #expect(table.count == 300_000)
        table.expire(now: Self.start + .seconds(60))
        #expect(table.state(first) == nil)
        #expect(table.count == 299_999)
        table.expire(now: Self.start + .seconds(70))
        #expect(table.isEmpty)
    }

    @Test func aStoredReplyDoesNotReplaceAChangeAwaitingItsCommitAndARecordRestartsTheWindow() {
        var table = DurableRequests(retention: .seconds(60))
        let key = RequestLog.key(sender: "a", requestID: 9)
        table.record(key, .awaiting, now: Self.start)
        table.remember(key, reply: [7], now: Self.start + .seconds(1))  // storage's copy, loaded meanwhile
        #expect(table.state(key) == .awaiting)
        table.record(key, .stored([8]), now: Self.start + .seconds(30))  // committed
        table.expire(now: Self.start + .seconds(61))  // the first record's time is up, not the second's
        #expect(table.state(key) == .stored([8]))
        table.expire(now: Self.start + .seconds(90))
        #expect(table.state(key) == nil)
    }

    @Test func atCapacityItIsFullUntilOldIdsExpire() {
        var table = DurableRequests(retention: .seconds(1), capacity: 3)
        for i in UInt64(1)...3 { table.record(RequestLog.key(sender: "a", requestID: i), .awaiting, now: Self.start) }
        #expect(table.isFull)
        table.remember(RequestLog.key(sender: "a", requestID: 4), reply: [], now: Self.start)  // storage's: kept all the same
        #expect(table.count == 4)
        table.expire(now: Self.start + .seconds(1))
        #expect(!table.isFull && table.isEmpty)
        table.record(RequestLog.key(sender: "a", requestID: 5), .awaiting, now: Self.start + .seconds(1))
        table.removeAll()
        #expect(table.isEmpty)
    }
}
