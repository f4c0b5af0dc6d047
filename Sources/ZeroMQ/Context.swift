import CZeroMQ
import Synchronization

/// Owns one libzmq context. Sockets keep their context alive; the context terminates when the last
/// reference goes away, after every socket has been closed.
///
/// libzmq documents contexts as thread-safe, so a `Context` may be shared between threads; the
/// sockets made from it may not.
public final class Context: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    /// CURVE for every socket made from this context (nil: plain sockets, no authentication).
    public let curve: CurveSetup?
    private let zap = Mutex<ZAPHandler?>(nil)

    /// Creates a context.
    /// - Parameters:
    ///   - ioThreads: libzmq I/O threads (1 is plenty below a few gigabits per second).
    ///   - curve: CURVE keys for every socket of this context; a process that binds must also call
    ///     `authenticate` before it binds, or libzmq lets any CURVE key in.
    /// - Throws: `ZMQError` when libzmq cannot create the context.
    public init(ioThreads: Int32 = 1, curve: CurveSetup? = nil) throws(ZMQError) {
        guard let ctx = zmq_ctx_new() else { throw ZMQError.last("zmq_ctx_new") }
        handle = ctx
        self.curve = curve
        if zmq_ctx_set(ctx, ZMQ_IO_THREADS, ioThreads) != 0 {
            let error = ZMQError.last("zmq_ctx_set(ZMQ_IO_THREADS)")
            zmq_ctx_term(ctx)
            throw error
        }
    }

    /// Starts this context's ZAP handler: from now on a CURVE peer completes its handshake with a
    /// socket of this context only when `authorize` returns a user id for its public key (Z85);
    /// `Socket.receiveWithUser` gives that id with each of the peer's messages.
    /// - Throws: `ZMQError` when the handler's socket cannot bind (a second call: EADDRINUSE).
    public func authenticate(_ authorize: @escaping @Sendable (_ publicKey: String) -> String?) throws(ZMQError) {
        let handler = try ZAPHandler(contextHandle: handle, authorize: authorize)
        zap.withLock { $0 = handler }
    }

    deinit {
        zap.withLock { $0?.stop() }
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
