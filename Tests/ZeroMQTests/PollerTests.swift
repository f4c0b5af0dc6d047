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

    /// A pair whose `pull` end has `count` messages queued, each a byte.
    private func queued(_ count: Int) throws -> (pull: Socket, push: Socket) {
        let pull = try Socket(context, .pull)
        let endpoint = try pull.bind("tcp://127.0.0.1:0")
        let push = try Socket(context, .push)
        try push.connect(endpoint)
        for i in 0..<count { try push.send([[UInt8(i)]]) }
        var poller = Poller()
        poller.add(pull)
        #expect(try poller.poll(timeoutMilliseconds: 5000) == [0])
        return (pull, push)
    }

    /// `poller` names its one socket well within `timeoutMilliseconds`, and the socket then
    /// gives `frames`.
    private func expectReportedAtOnce(_ poller: Poller, _ socket: Socket, timeoutMilliseconds: Int, then frames: Frames) throws {
        let start = ContinuousClock.now
        #expect(try poller.poll(timeoutMilliseconds: timeoutMilliseconds) == [0])
        #expect(ContinuousClock.now - start < .milliseconds(timeoutMilliseconds / 2))
        #expect(try socket.receive(dontWait: true) == frames)
    }

    @Test func aMessageLeftAfterAReceiveIsReportedThoughTheDescriptorStaysQuiet() throws {
        let (pull, push) = try queued(2)
        #expect(try pull.receive(dontWait: true) == [[0]])
        // libzmq signals the socket's descriptor once for both messages, and the first receive
        // took that signal in: the poller must ask the socket, not wait on its descriptor.
        var poller = Poller()
        poller.add(pull)
        try expectReportedAtOnce(poller, pull, timeoutMilliseconds: 2000, then: [[1]])
        #expect(try poller.poll(timeoutMilliseconds: 50) == [])
        _ = push
    }

    @Test func aMessageWhoseSignalASendTookInIsStillReported() throws {
        let here = try Socket(context, .dealer)
        let endpoint = try here.bind("tcp://127.0.0.1:0")
        let there = try Socket(context, .dealer)
        try there.connect(endpoint)
        try there.send([[1]])
        var poller = Poller()
        poller.add(here)
        #expect(try poller.poll(timeoutMilliseconds: 5000) == [0])
        #expect(try here.receive(dontWait: true) == [[1]])
        #expect(try poller.poll(timeoutMilliseconds: 0) == [])  // checked: quiet
        try there.send([[7]])
        // Wait until libzmq signals the socket's descriptor, then send on the socket: a send
        // takes in the socket's pending commands (at most once a millisecond), signal and all.
        var fd = pollfd(fd: try here.pollDescriptor(), events: Int16(POLLIN), revents: 0)
        let deadline = ContinuousClock.now + .seconds(5)
        while Glibc.poll(&fd, 1, 10) == 0 && ContinuousClock.now < deadline {}
        Thread.sleep(forTimeInterval: 0.02)
        try here.send([[2]])
        fd.revents = 0
        #expect(Glibc.poll(&fd, 1, 0) == 0)  // the descriptor no longer says anything
        try expectReportedAtOnce(poller, here, timeoutMilliseconds: 2000, then: [[7]])
    }

    @Test func aMessageSentDuringTheWaitEndsItAtOnce() throws {
        let pull = try Socket(context, .pull)
        let endpoint = try pull.bind("tcp://127.0.0.1:0")
        var poller = Poller()
        poller.add(pull)
        #expect(try poller.poll(timeoutMilliseconds: 0) == [])
        let context = self.context
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: 0.1)
            guard let push = try? Socket(context, .push) else { return }
            try? push.connect(endpoint)
            try? push.send([[9]])
            Thread.sleep(forTimeInterval: 1)  // linger 0: keep the socket until the message is out
        }
        try expectReportedAtOnce(poller, pull, timeoutMilliseconds: 5000, then: [[9]])
    }

    @Test func aClosedSocketIsAnErrorNotAnotherFilesDescriptor() throws {
        let pull = try Socket(context, .pull)
        _ = try pull.bind("tcp://127.0.0.1:0")
        var poller = Poller()
        poller.add(pull)
        #expect(try poller.poll(timeoutMilliseconds: 0) == [])
        pull.close()
        #expect(throws: ZMQError.self) { try poller.poll(timeoutMilliseconds: 0) }
    }
}
