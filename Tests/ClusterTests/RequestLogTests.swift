import Testing
@testable import Cluster
import Wire

/// The worker's log of recent replies: exact keys, first-in first-out eviction at capacity.
@Suite struct RequestLogTests {
    /// Warming is a hint with no effect but on caches: it must stay inside the index (an empty
    /// one, and a full ring whose oldest entries wrap around) and answer as before.
    @Test func warmingStaysInBoundsAndTheLogAnswersAsBefore() {
        var log = RequestLog(capacity: 8)
        #expect(log.warm(requestIDs: [1, 2, 3], senderHash: 7) == 0)  // nothing indexed yet
        for id in UInt64(1)...12 { log.record(RequestLog.key(sender: "c", requestID: id), .answered([UInt8(id)])) }
        _ = log.warm(requestIDs: UInt64(1)...100, senderHash: "c".hashValue)
        #expect(log.count == 8)
        for id in UInt64(1)...4 { #expect(log.entry(RequestLog.key(sender: "c", requestID: id)) == nil) }
        for id in UInt64(5)...12 {
            if case .answered(let bytes)? = log.entry(RequestLog.key(sender: "c", requestID: id)) { #expect(bytes == [UInt8(id)]) } else { Issue.record("\(id) lost") }
        }
    }

    @Test func keysAreExactAndTheOldestGoFirst() {
        var log = RequestLog(capacity: 3)
        let a1 = RequestLog.key(sender: "a", requestID: 1)
        log.record(a1, .answered([1]))
        log.record(RequestLog.key(sender: "b", requestID: 1), .change(ChangeAnswer()))
        log.record(RequestLog.key(sender: "a#1", requestID: 0), .answered([2]))  // no aliasing of sender and id
        if case .answered(let bytes)? = log.entry(a1) { #expect(bytes == [1]) } else { Issue.record("a#1 lost") }
        #expect(log.entry(RequestLog.key(sender: "a", requestID: 2)) == nil)
        #expect(log.count == 3)

        log.record(a1, .answered([3]))  // an update: no new slot, nothing evicted
        #expect(log.count == 3)
        if case .answered(let bytes)? = log.entry(a1) { #expect(bytes == [3]) } else { Issue.record("a#1 lost") }

        log.record(RequestLog.key(sender: "c", requestID: 9), .answered([4]))  // evicts the oldest: a#1
        #expect(log.count == 3)
        #expect(log.entry(a1) == nil)
        #expect(log.entry(RequestLog.key(sender: "b", requestID: 1)) != nil)
        for i in 0..<10 { log.record(RequestLog.key(sender: "d", requestID: UInt64(i)), .change(ChangeAnswer())) }
        #expect(log.count == 3)
        #expect(log.entry(RequestLog.key(sender: "d", requestID: 9)) != nil)
        #expect(log.entry(RequestLog.key(sender: "d", requestID: 6)) == nil)
    }

    /// Against a plain model (a dictionary and a first-in first-out queue): random records and
    /// lookups over few senders and ids, at several capacities, so that evictions take entries out
    /// of the middle of probe runs, the index grows, and sender names are let go and reused.
    @Test(arguments: [1, 2, 7, 64, 1_000])
    func agreesWithAPlainModel(capacity: Int) {
        var log = RequestLog(capacity: capacity)
        var model: [RequestLog.Key: [UInt8]] = [:]
        var order: [RequestLog.Key] = []
        var random = SystemRandomNumberGenerator()
        let senders = ["a", "b", "client-with-a-long-name-\(capacity)", ""]
        for step in 0..<20_000 {
            let key = RequestLog.key(sender: senders[Int.random(in: 0..<senders.count, using: &random)],
                                     requestID: UInt64.random(in: 0...UInt64(3 * capacity), using: &random) &* 0x1_0000_0000)
            if Bool.random(using: &random) {
                let bytes = withUnsafeBytes(of: step) { Array($0) }
                log.record(key, .answered(bytes))
                if model.updateValue(bytes, forKey: key) == nil {
                    order.append(key)
                    if order.count > capacity { model[order.removeFirst()] = nil }
                }
            }
            let probe = RequestLog.key(sender: senders[Int.random(in: 0..<senders.count, using: &random)],
                                       requestID: UInt64.random(in: 0...UInt64(3 * capacity), using: &random) &* 0x1_0000_0000)
            for k in [key, probe] {
                switch log.entry(k) {
                case .answered(let bytes)?: #expect(model[k] == bytes, "step \(step)")
                case nil: #expect(model[k] == nil, "step \(step): \(k.sender)#\(k.requestID) lost")
                default: Issue.record("step \(step): an entry of another kind")
                }
            }
            #expect(log.count == model.count)
        }
        for k in order { if case .answered? = log.entry(k) {} else { Issue.record("\(k.sender)#\(k.requestID) lost at the end") } }
    }

    /// Request ids a client may pick to collide (multiples of a power of two, the extremes) are
    /// all found, and the log stays bounded.
    @Test func hostileRequestIDsAreFound() {
        var log = RequestLog(capacity: 4_096)
        let ids = (0..<4_096).map { UInt64($0) << 52 } + [.max, .max - 1, 1]  // distinct: 4,099 ids, 3 evicted
        for id in ids { log.record(RequestLog.key(sender: "x", requestID: id), .answered([1])) }
        #expect(log.count == 4_096)
        for id in ids.suffix(4_096) {
            if case .answered? = log.entry(RequestLog.key(sender: "x", requestID: id)) {} else { Issue.record("\(id) lost") }
        }
        for id in ids.prefix(3) { #expect(log.entry(RequestLog.key(sender: "x", requestID: id)) == nil) }
        #expect(log.entry(RequestLog.key(sender: "y", requestID: .max)) == nil)
    }
}
