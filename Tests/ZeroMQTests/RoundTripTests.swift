import Foundation
import Testing
@testable import ZeroMQ

@Suite struct RoundTripTests {
    let context = try! Context()

    @Test func tcpOnPortZeroReportsTheRealPort() throws {
        let server = try Socket(context, .router)
        let endpoint = try server.bind("tcp://127.0.0.1:0")
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        let port = Int(endpoint.split(separator: ":").last ?? "") ?? 0
        #expect(port > 0)

        let client = try Socket(context, .dealer)
        try client.setReceiveTimeout(milliseconds: 5000)
        try server.setReceiveTimeout(milliseconds: 5000)
        try client.connect(endpoint)
        try client.send([Array("ping".utf8), [0, 1, 2]])

        let request = try #require(try server.receive())
        #expect(request.count == 3)  // routing id, then the client's two frames
        #expect(request[1] == Array("ping".utf8))
        #expect(request[2] == [0, 1, 2])
        try server.send([request[0], Array("pong".utf8)])
        #expect(try client.receive() == [Array("pong".utf8)])
    }

    @Test func ipcRoundTripWithPushPull() throws {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("cellcluster-zmq-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock").path
        defer { unlink(path) }
        let pull = try Socket(context, .pull)
        let endpoint = try pull.bind("ipc://\(path)")
        #expect(endpoint == "ipc://\(path)")
        let push = try Socket(context, .push)
        try push.connect(endpoint)
        try pull.setReceiveTimeout(milliseconds: 5000)
        for i in 0..<100 { try push.send([[UInt8(i)], []]) }
        for i in 0..<100 {
            #expect(try pull.receive() == [[UInt8(i)], []])  // order kept, empty frames kept
        }
    }

    @Test func receiveTimeoutReturnsNil() throws {
        let pull = try Socket(context, .pull)
        _ = try pull.bind("tcp://127.0.0.1:0")
        try pull.setReceiveTimeout(milliseconds: 20)
        #expect(try pull.receive() == nil)
        #expect(try pull.receive(dontWait: true) == nil)
    }

    @Test func bindingAnEndpointInUseNamesTheCallAndErrno() throws {
        let first = try Socket(context, .pull)
        let endpoint = try first.bind("tcp://127.0.0.1:0")
        let second = try Socket(context, .pull)
        let error = try #require(throws: ZMQError.self) { try second.bind(endpoint) }
        #expect(error.code == EADDRINUSE)
        #expect(error.call.contains(endpoint))
    }

    @Test func closeIsIdempotentAndAClosedSocketRefusesWork() throws {
        let socket = try Socket(context, .push)
        socket.close()
        socket.close()
        #expect(throws: ZMQError.self) { try socket.send([[1]]) }
        #expect(throws: ZMQError.self) { try socket.bind("tcp://127.0.0.1:0") }
    }

    @Test func highWaterMarkMakesANonBlockingSendReportWouldBlock() throws {
        let push = try Socket(context, .push)
        try push.setSendHighWaterMark(1)
        // Nothing is connected: a PUSH socket with no peer cannot queue, so the send would block.
        #expect(try push.send([[1]], dontWait: true) == false)
    }
}
