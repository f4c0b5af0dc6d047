import CZeroMQ

/// Waits on several sockets at once for incoming messages.
public struct Poller {
    private enum Item {
        case socket(Socket)
        case doorbell(Doorbell)
    }

    private var items: [Item] = []

    public init() {}

    /// Adds a socket to wait on; returns its index in `poll`'s result.
    @discardableResult
    public mutating func add(_ socket: Socket) -> Int {
        items.append(.socket(socket))
        return items.count - 1
    }

    /// Adds a doorbell to wait on; returns its index in `poll`'s result.
    @discardableResult
    public mutating func add(_ doorbell: Doorbell) -> Int {
        items.append(.doorbell(doorbell))
        return items.count - 1
    }

    /// Waits until at least one socket has a message (or a doorbell rang), or the timeout passes.
    /// - Parameter timeoutMilliseconds: -1 waits forever; 0 checks and returns at once.
    /// - Returns: the indices of the sockets with a message waiting (empty on timeout).
    /// - Throws: `ZMQError` from `zmq_poll`, e.g. ETERM when the context was terminated.
    public func poll(timeoutMilliseconds: Int) throws(ZMQError) -> [Int] {
        var raw = [zmq_pollitem_t]()
        raw.reserveCapacity(items.count)
        for item in items {
            switch item {
            case .socket(let socket):
                raw.append(zmq_pollitem_t(socket: try socket.open("zmq_poll"), fd: -1, events: Int16(ZMQ_POLLIN), revents: 0))
            case .doorbell(let doorbell):
                raw.append(zmq_pollitem_t(socket: nil, fd: doorbell.readFD, events: Int16(ZMQ_POLLIN), revents: 0))
            }
        }
        let count = raw.count
        guard try zmqCall("zmq_poll", { zmq_poll(&raw, Int32(count), timeoutMilliseconds) }) != nil
        else { return [] }
        return raw.indices.filter { raw[$0].revents & Int16(ZMQ_POLLIN) != 0 }
    }
}
