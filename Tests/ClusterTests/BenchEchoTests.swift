import Foundation
import ProcessKit
import Testing
import ZeroMQ

/// `cellcluster bench-echo`, the stand-in worker of `bench e2e`'s transport floor, as a process.
@Suite struct BenchEchoTests {
    @Test func everyMessageIsAnsweredWithItsRoutingFramesAndAReplyOfTheAskedSize() throws {
        let echo = try ChildProcess(["bench-echo", "--bind", "tcp://127.0.0.1:0", "--reply-bytes", "2076"])
        defer { echo.killHard() }
        let endpoint = try echo.waitReady(timeout: .seconds(30))
        #expect(echo.readyField("pid") == String(echo.pid))
        let context = try Context()
        let client = try Socket(context, .dealer)
        try client.connect(endpoint)
        try client.setReceiveTimeout(milliseconds: 5000)
        // With an empty delimiter first (as a REQ socket would send): every frame but the last comes back.
        for payload in [[UInt8](repeating: 1, count: 10), [UInt8](repeating: 2, count: 4000)] {
            _ = try client.send([[], payload])
            let reply = try #require(try client.receive())
            #expect(reply.count == 2)
            #expect(reply.first == [])
            #expect(reply.last?.count == 2076)
            #expect(reply.last?.allSatisfy { $0 == 0x2A } == true)
        }
        _ = try client.send([[7, 7]])  // a single frame, as a CellClient sends: the reply alone
        #expect(try client.receive() == [[UInt8](repeating: 0x2A, count: 2076)])
        // A frame over its limit (1 MiB, EchoServer.maxFrameBytes) is not answered (its peer is
        // dropped); the echo serves on.
        let hostile = try Socket(context, .dealer)
        try hostile.connect(endpoint)
        try hostile.setReceiveTimeout(milliseconds: 1000)
        _ = try hostile.send([[UInt8](repeating: 3, count: (1 << 20) + 1)])
        #expect(try hostile.receive() == nil)
        _ = try client.send([[8]])
        #expect(try client.receive()?.last?.count == 2076)
        #expect(echo.isRunning)
        // It ends on SIGTERM, whatever signal mask it inherited from this test runner.
        let started = ContinuousClock.now
        _ = echo.stop(SIGTERM, timeout: .seconds(10))
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test func aReplySizeOutOfRangeIsNamed() throws {
        let echo = try ChildProcess(["bench-echo", "--reply-bytes", "2000000"])
        let status = echo.waitForExit(timeout: .seconds(30))
        #expect(status != nil && status != 0)
        #expect(echo.stderr.contains("--reply-bytes"), "\(echo.stderr)")
    }
}
