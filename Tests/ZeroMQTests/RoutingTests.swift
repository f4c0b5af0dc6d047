import Foundation
import Testing
@testable import ZeroMQ

@Suite struct RoutingTests {
    let context = try! Context()

    @Test func routerAddressesDealersByRoutingID() throws {
        let router = try Socket(context, .router)
        try router.setRouterMandatory(true)
        try router.setReceiveTimeout(milliseconds: 5000)
        let endpoint = try router.bind("tcp://127.0.0.1:0")

        var dealers: [Socket] = []
        for name in ["worker-a", "worker-b"] {
            let dealer = try Socket(context, .dealer)
            try dealer.setRoutingID(Array(name.utf8))
            #expect(try dealer.routingID() == Array(name.utf8))
            try dealer.setReceiveTimeout(milliseconds: 5000)
            try dealer.connect(endpoint)
            try dealer.send([Array("hello from \(name)".utf8)])
            dealers.append(dealer)
        }
        var seen: [String: String] = [:]
        for _ in 0..<2 {
            let frames = try #require(try router.receive())
            seen[String(decoding: frames[0], as: UTF8.self)] = String(decoding: frames[1], as: UTF8.self)
        }
        #expect(seen == ["worker-a": "hello from worker-a", "worker-b": "hello from worker-b"])

        try router.send([Array("worker-b".utf8), Array("for b".utf8)])
        #expect(try dealers[1].receive() == [Array("for b".utf8)])
        #expect(try dealers[0].receive(dontWait: true) == nil)
    }

    @Test func mandatoryRouterRejectsAnUnknownRoutingID() throws {
        let router = try Socket(context, .router)
        try router.setRouterMandatory(true)
        _ = try router.bind("tcp://127.0.0.1:0")
        let error = try #require(throws: ZMQError.self) {
            try router.send([Array("nobody".utf8), [1]])
        }
        #expect(error.code == EHOSTUNREACH)
    }

    @Test func pubSubDeliversOnlySubscribedTopics() throws {
        let publisher = try Socket(context, .pub)
        let endpoint = try publisher.bind("tcp://127.0.0.1:0")
        let subscriber = try Socket(context, .sub)
        try subscriber.subscribe(Array("map".utf8))
        try subscriber.connect(endpoint)

        // A subscription takes a moment to reach the publisher: publish until one arrives (bounded).
        var received: Frames?
        for attempt in 0..<500 where received == nil {
            try publisher.send([Array("status".utf8), [UInt8(attempt % 256)]])
            try publisher.send([Array("map".utf8), Array("epoch-7".utf8)])
            received = try Poller.waitOne(subscriber, milliseconds: 10)
        }
        #expect(received == [Array("map".utf8), Array("epoch-7".utf8)])
        // Drain: only "map" messages may be queued, never "status".
        while let more = try subscriber.receive(dontWait: true) {
            #expect(more[0] == Array("map".utf8))
        }
    }
}

extension Poller {
    /// Polls one socket and receives if a message is there.
    static func waitOne(_ socket: Socket, milliseconds: Int) throws -> Frames? {
        var poller = Poller()
        poller.add(socket)
        guard try poller.poll(timeoutMilliseconds: milliseconds) == [0] else { return nil }
        return try socket.receive(dontWait: true)
    }
}
