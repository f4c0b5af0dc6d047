import CZeroMQ

/// Owns one libzmq context. Sockets keep their context alive; the context terminates when the last
/// reference goes away, after every socket has been closed.
///
/// libzmq documents contexts as thread-safe, so a `Context` may be shared between threads; the
/// sockets made from it may not.
public final class Context: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    /// Creates a context.
    /// - Parameter ioThreads: libzmq I/O threads (1 is plenty below a few gigabits per second).
    /// - Throws: `ZMQError` when libzmq cannot create the context.
    public init(ioThreads: Int32 = 1) throws(ZMQError) {
        guard let ctx = zmq_ctx_new() else { throw ZMQError.last("zmq_ctx_new") }
        handle = ctx
        if zmq_ctx_set(ctx, ZMQ_IO_THREADS, ioThreads) != 0 {
            let error = ZMQError.last("zmq_ctx_set(ZMQ_IO_THREADS)")
            zmq_ctx_term(ctx)
            throw error
        }
    }

    deinit {
        // Every socket holds a strong reference to its context, so all are closed by now.
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }

    /// Whether this libzmq build supports a capability such as "curve" or "ipc".
    public static func has(_ capability: String) -> Bool { zmq_has(capability) != 0 }

    /// The libzmq version as (major, minor, patch).
    public static var version: (Int32, Int32, Int32) {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return (major, minor, patch)
    }
}
