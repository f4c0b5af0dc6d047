import CZeroMQ

/// Waits on several sockets at once for incoming messages.
public struct Poller {
    private var sockets: [Socket] = []

    public init() {}

    /// Adds a socket to wait on; returns its index in `poll`'s result.
    @discardableResult
    public mutating func add(_ socket: Socket) -> Int {
        sockets.append(socket)
        return sockets.count - 1
    }

    /// Waits until at least one socket has a message, or the timeout passes.
    /// - Parameter timeoutMilliseconds: -1 waits forever; 0 checks and returns at once.
    /// - Returns: the indices of the sockets with a message waiting (empty on timeout).
    /// - Throws: `ZMQError` from `zmq_poll`, e.g. ETERM when the context was terminated.
    public func poll(timeoutMilliseconds: Int) throws(ZMQError) -> [Int] {
        var items = [zmq_pollitem_t]()
        items.reserveCapacity(sockets.count)
        for socket in sockets {
            let raw = try socket.open("zmq_poll")
            items.append(zmq_pollitem_t(socket: raw, fd: -1, events: Int16(ZMQ_POLLIN), revents: 0))
        }
        let count = items.count
        guard try zmqCall("zmq_poll", { zmq_poll(&items, Int32(count), timeoutMilliseconds) }) != nil
        else { return [] }
        return items.indices.filter { items[$0].revents & Int16(ZMQ_POLLIN) != 0 }
    }
}
