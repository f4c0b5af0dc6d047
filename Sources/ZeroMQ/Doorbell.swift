#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Wakes a thread that waits in `Poller.poll` from any other thread: a non-blocking pipe whose
/// read end the poller watches. `ring` may be called from any thread, any number of times;
/// `drain` (on the polling thread) empties it. One owner of the two file descriptors.
public final class Doorbell: Sendable {
    let readFD: Int32
    private let writeFD: Int32

    /// - Throws: `ZMQError` carrying errno when the pipe cannot be made.
    public init() throws(ZMQError) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw ZMQError(code: errno, call: "pipe") }
        for fd in fds {
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        readFD = fds[0]
        writeFD = fds[1]
    }

    deinit {
        close(readFD)
        close(writeFD)
    }

    /// Wakes the poller. A full pipe already means "wake up": the write is then dropped.
    public func ring() {
        var byte: UInt8 = 1
        _ = write(writeFD, &byte, 1)
    }

    /// Empties the pipe; call it when `poll` named the doorbell.
    public func drain() {
        withUnsafeTemporaryAllocation(byteCount: 256, alignment: 1) { buffer in
            while read(readFD, buffer.baseAddress, buffer.count) > 0 {}
        }
    }
}
