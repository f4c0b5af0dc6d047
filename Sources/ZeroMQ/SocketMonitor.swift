import CZeroMQ
import Synchronization

/// A transport event of a monitored socket (libzmq's `zmq_socket_monitor`).
public struct SocketEvent: Sendable, Equatable {
    /// Kinds of event; a mask of them chooses which a monitor reports.
    public struct Kinds: OptionSet, Sendable, Hashable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        /// A connection this socket asked for was made.
        public static let connected = Kinds(rawValue: ZMQ_EVENT_CONNECTED)
        /// A connection ended that the peer (or the network) closed: its process exited, or the
        /// handshake failed. Not reported when this socket closes it.
        public static let disconnected = Kinds(rawValue: ZMQ_EVENT_DISCONNECTED)
        /// The handshake finished, with the peer's authentication if there is one.
        public static let handshakeSucceeded = Kinds(rawValue: ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
        /// The monitored socket was closed: no more events follow.
        public static let monitorStopped = Kinds(rawValue: ZMQ_EVENT_MONITOR_STOPPED)
    }

    public let kind: Kinds
    /// The event's value (a file descriptor, an errno or a status, depending on the kind).
    public let value: UInt32
    /// The endpoint it concerns, e.g. `tcp://127.0.0.1:5555`.
    public let address: String

    /// Decodes the two frames libzmq sends per event: 2 bytes of kind and 4 of value (in the
    /// machine's byte order), then the address. Nil for anything else.
    static func decode(_ frames: Frames) -> SocketEvent? {
        guard frames.count == 2, frames[0].count == 6 else { return nil }
        let head = frames[0]
        let kind = UInt16(head[0]) | UInt16(head[1]) << 8
        let value = UInt32(head[2]) | UInt32(head[3]) << 8 | UInt32(head[4]) << 16 | UInt32(head[5]) << 24
        return SocketEvent(kind: Kinds(rawValue: Int32(kind)), value: value, address: String(decoding: frames[1], as: UTF8.self))
    }
}

/// Receives one socket's transport events. It owns the PAIR socket they arrive on (which a
/// `Poller` can wait on); the monitored socket stays with its owner, on the same thread.
public final class SocketMonitor {
    /// Where the events arrive.
    public let events: Socket
    private static let counter = Mutex(0)

    init(watching socket: Socket, kinds: SocketEvent.Kinds) throws(ZMQError) {
        let handle = try socket.open("zmq_socket_monitor")
        let number = Self.counter.withLock { n -> Int in
            n += 1
            return n
        }
        let address = "inproc://cellcluster-monitor-\(number)"
        try zmqCall("zmq_socket_monitor(\(address))") { zmq_socket_monitor(handle, address, kinds.rawValue) }
        events = try Socket(socket.context, .pair)
        try events.connect(address)
    }

    deinit { events.close() }

    /// The next event that has arrived, or nil when none is waiting (never blocks).
    public func next() throws(ZMQError) -> SocketEvent? {
        while let frames = try events.receive(dontWait: true) {
            if let event = SocketEvent.decode(frames) { return event }
        }
        return nil
    }
}

extension Socket {
    /// Starts reporting this socket's transport events of `kinds` to a new monitor. Little-endian
    /// machines only (libzmq writes the event in the machine's order; every platform we build is).
    public func monitor(_ kinds: SocketEvent.Kinds) throws(ZMQError) -> SocketMonitor {
        try SocketMonitor(watching: self, kinds: kinds)
    }
}
