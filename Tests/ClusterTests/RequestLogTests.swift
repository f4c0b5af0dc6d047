import Testing
@testable import Cluster

/// The worker's log of recent replies: exact keys, first-in first-out eviction at capacity.
@Suite struct RequestLogTests {
    @Test func keysAreExactAndTheOldestGoFirst() {
        var log = RequestLog(capacity: 3)
        let a1 = RequestLog.key(sender: "a", requestID: 1)
        log.record(a1, .answered([1]))
        log.record(RequestLog.key(sender: "b", requestID: 1), .awaitingDurable)
        log.record(RequestLog.key(sender: "a#1", requestID: 0), .answered([2]))  // no aliasing of sender and id
        if case .answered(let bytes)? = log.entry(a1) { #expect(bytes == [1]) } else { Issue.record("a#1 lost") }
        #expect(log.entry(RequestLog.key(sender: "a", requestID: 2)) == nil)
        #expect(log.count == 3)

        log.record(a1, .answered([3]))  // an update: no new slot, nothing evicted
        #expect(log.count == 3)
        if case .answered(let bytes)? = log.entry(a1) { #expect(bytes == [3]) } else { Issue.record("a#1 lost") }

        log.record(RequestLog.key(sender: "c", requestID: 9), .stored([4]))  // evicts the oldest: a#1
        #expect(log.count == 3)
        #expect(log.entry(a1) == nil)
        #expect(log.entry(RequestLog.key(sender: "b", requestID: 1)) != nil)
        for i in 0..<10 { log.record(RequestLog.key(sender: "d", requestID: UInt64(i)), .awaitingDurable) }
        #expect(log.count == 3)
        #expect(log.entry(RequestLog.key(sender: "d", requestID: 9)) != nil)
        #expect(log.entry(RequestLog.key(sender: "d", requestID: 6)) == nil)
    }
}
