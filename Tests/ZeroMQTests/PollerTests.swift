import Foundation
import Testing
@testable import ZeroMQ

@Suite struct PollerTests {
    let context = try! Context()

    @Test func pollTimesOutWhenNothingArrives() throws {
        let pull = try Socket(context, .pull)
        _ = try pull.bind("tcp://127.0.0.1:0")
        var poller = Poller()
        poller.add(pull)
        let start = ContinuousClock.now
        #expect(try poller.poll(timeoutMilliseconds: 50) == [])
        #expect(ContinuousClock.now - start >= .milliseconds(45))
    }

    @Test func pollReportsWhichSocketIsReady() throws {
        let quiet = try Socket(context, .pull)
        _ = try quiet.bind("tcp://127.0.0.1:0")
        let busy = try Socket(context, .pull)
        let endpoint = try busy.bind("tcp://127.0.0.1:0")
        let push = try Socket(context, .push)
        try push.connect(endpoint)
        try push.send([[42]])

        var poller = Poller()
        #expect(poller.add(quiet) == 0)
        #expect(poller.add(busy) == 1)
        #expect(try poller.poll(timeoutMilliseconds: 5000) == [1])
        #expect(try busy.receive(dontWait: true) == [[42]])
    }
}
