import Foundation
import Testing
@testable import ZeroMQ

@Suite struct DoorbellTests {
    @Test func aDoorbellRungFromAnotherThreadWakesThePoller() throws {
        let context = try Context()
        let quiet = try Socket(context, .pull)
        _ = try quiet.bind("tcp://127.0.0.1:0")
        let doorbell = try Doorbell()
        var poller = Poller()
        #expect(poller.add(quiet) == 0)
        #expect(poller.add(doorbell) == 1)
        #expect(try poller.poll(timeoutMilliseconds: 0) == [])
        let start = ContinuousClock.now
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: 0.05)
            doorbell.ring()
        }
        #expect(try poller.poll(timeoutMilliseconds: 5000) == [1])
        #expect(ContinuousClock.now - start < .seconds(4))
        // Rung many times, drained once: quiet again.
        for _ in 0..<10_000 { doorbell.ring() }  // more than a pipe holds: the extra rings are dropped
        doorbell.drain()
        #expect(try poller.poll(timeoutMilliseconds: 0) == [])
    }
}
