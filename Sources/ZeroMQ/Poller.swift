#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Waits on several sockets at once for incoming messages.
///
/// It waits in one `poll` on the sockets' own descriptors (`ZMQ_FD`) and asks a socket for its
/// events only when its descriptor woke the wait, or when a call on it since its last check may
/// have taken in the wake-up (`Socket.readinessUnknown`). `zmq_poll` asked every socket before
/// and after each wait, a system call each: about ten per turn of a worker's loop, where one
/// wait and one check do.
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
    /// - Returns: the indices of the sockets with a message waiting (empty on timeout), ascending.
    /// - Throws: `ZMQError`, e.g. ETERM when the context was terminated, or from `poll` itself.
    public func poll(timeoutMilliseconds: Int) throws(ZMQError) -> [Int] {
        var fds = [pollfd]()
        fds.reserveCapacity(items.count)
        for item in items {
            switch item {
            case .socket(let socket): fds.append(pollfd(fd: try socket.pollDescriptor(), events: Int16(POLLIN), revents: 0))
            case .doorbell(let doorbell): fds.append(pollfd(fd: doorbell.readFD, events: Int16(POLLIN), revents: 0))
            }
        }
        var ready = [Bool](repeating: false, count: items.count)
        var any = false
        for (index, item) in items.enumerated() {
            if case .socket(let socket) = item, socket.readinessUnknown, try socket.hasMessage() {
                ready[index] = true
                any = true
            }
        }
        let deadline = timeoutMilliseconds > 0 ? ContinuousClock.now + .milliseconds(timeoutMilliseconds) : nil
        var wait = any ? 0 : timeoutMilliseconds
        while true {
            let rc = waitForDescriptors(&fds, milliseconds: wait)
            if rc < 0 {
                guard errno == EINTR else { throw ZMQError(code: errno, call: "poll") }
            } else if rc > 0 {
                for index in fds.indices where fds[index].revents != 0 {
                    fds[index].revents = 0
                    switch items[index] {
                    case .doorbell: ready[index] = true
                    case .socket(let socket): if try socket.hasMessage() { ready[index] = true }
                    }
                    any = any || ready[index]
                }
            }
            if any || wait == 0 { break }
            // A descriptor woke the wait for something other than a message (a peer came or
            // went, room to send): wait out the rest.
            if let deadline {
                let left = deadline - ContinuousClock.now
                guard left > .zero else { break }
                wait = max(1, Int((left / .milliseconds(1)).rounded(.up)))
            }
        }
        return ready.indices.filter { ready[$0] }
    }
}

/// One `poll(2)` on `fds`.
private func waitForDescriptors(_ fds: inout [pollfd], milliseconds: Int) -> Int32 {
    let count = nfds_t(fds.count)
    return fds.withUnsafeMutableBufferPointer { buffer in
        #if canImport(Glibc)
        Glibc.poll(buffer.baseAddress, count, Int32(clamping: milliseconds))
        #else
        Darwin.poll(buffer.baseAddress, count, Int32(clamping: milliseconds))
        #endif
    }
}
