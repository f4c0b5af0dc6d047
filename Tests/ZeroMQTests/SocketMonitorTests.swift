import Foundation
import Testing
@testable import ZeroMQ

@Suite struct SocketMonitorTests {
    let context = try! Context()

    /// Waits (at most 5 s) for an event of `kind`, collecting every event seen on the way.
    func waitFor(_ kind: SocketEvent.Kinds, on monitor: SocketMonitor, seen: inout [SocketEvent]) throws -> Bool {
        var poller = Poller()
        poller.add(monitor.events)
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            _ = try poller.poll(timeoutMilliseconds: 100)
            while let event = try monitor.next() {
                seen.append(event)
                if event.kind == kind { return true }
            }
        }
        return false
    }

    @Test func aConnectionThePeerClosesIsReported() throws {
        let server = try Socket(context, .router)
        let endpoint = try server.bind("tcp://127.0.0.1:0")
        let client = try Socket(context, .dealer)
        let monitor = try client.monitor([.connected, .handshakeSucceeded, .disconnected])
        try client.connect(endpoint)
        var seen: [SocketEvent] = []
        #expect(try waitFor(.handshakeSucceeded, on: monitor, seen: &seen))
        #expect(seen.contains { $0.kind == .connected && $0.address == endpoint })
        #expect(!seen.contains { $0.kind == .disconnected })
        server.close()  // as the kernel does for a process that dies
        #expect(try waitFor(.disconnected, on: monitor, seen: &seen))
        #expect(seen.last?.address == endpoint)
    }

    @Test func framesThatAreNoEventAreSkipped() {
        #expect(SocketEvent.decode([[1, 2, 3]]) == nil)
        #expect(SocketEvent.decode([[0, 2, 7, 0, 0, 0], Array("tcp://h:1".utf8)])
                == SocketEvent(kind: .disconnected, value: 7, address: "tcp://h:1"))
    }
}
