import CZeroMQ

/// Owns one libzmq socket. A socket must be used by one thread at a time, so `Socket` is not
/// `Sendable`: confine it to the thread or actor that owns it.
public final class Socket {
    /// The raw socket; nil once closed. Visible inside this module only (the poller needs it).
    private(set) var handle: UnsafeMutableRawPointer?
    /// Keeps the context alive for as long as the socket exists.
    public let context: Context
    public let type: SocketType
    /// Whether a message may be waiting that the socket's descriptor (`ZMQ_FD`) would not
    /// announce: true after any call on the socket (libzmq may have taken in its wake-up signal
    /// then), false once a check or a receive found nothing. `Poller` reads it.
    var readinessUnknown = true
    /// libzmq's descriptor for the socket (`ZMQ_FD`): readable when the socket has news for its
    /// owner thread. Read once.
    var descriptor: Int32?

    /// Opens a socket with `linger` 0 so that closing never blocks on unsent messages.
    /// - Throws: `ZMQError` from `zmq_socket`.
    public init(_ context: Context, _ type: SocketType) throws(ZMQError) {
        guard let socket = zmq_socket(context.handle, type.rawValue) else {
            throw ZMQError.last("zmq_socket(\(type))")
        }
        self.handle = socket
        self.context = context
        self.type = type
        try setInt(ZMQ_LINGER, 0, "ZMQ_LINGER")
    }

    deinit { close() }

    /// Closes the socket; calling it again does nothing.
    public func close() {
        guard let socket = handle else { return }
        handle = nil
        descriptor = nil
        zmq_close(socket)
    }

    func open(_ call: @autoclosure () -> String) throws(ZMQError) -> UnsafeMutableRawPointer {
        guard let socket = handle else { throw ZMQError(code: ENOTSOCK, call: call()) }
        readinessUnknown = true
        return socket
    }

    /// Binds to an endpoint (as a CURVE server when the context has CURVE keys) such as `tcp://127.0.0.1:0` (port 0: the system picks one) or `ipc:///path`.
    /// - Returns: the endpoint actually bound (`ZMQ_LAST_ENDPOINT`), with the real port.
    @discardableResult
    public func bind(_ endpoint: String) throws(ZMQError) -> String {
        let socket = try open("zmq_bind(\(endpoint))")
        if let curve = context.curve, !endpoint.hasPrefix("inproc://") {
            try setCurveServer(secretKey: curve.own.secretKey)
        }
        try zmqCall("zmq_bind(\(endpoint))") { zmq_bind(socket, endpoint) }
        return try lastEndpoint()
    }

    /// Connects to an endpoint (presenting the context's CURVE keys, if any); libzmq reconnects on its own when the peer goes away.
    public func connect(_ endpoint: String) throws(ZMQError) {
        let socket = try open("zmq_connect(\(endpoint))")
        if let curve = context.curve, !endpoint.hasPrefix("inproc://") {
            try setCurveClient(serverKey: curve.serverKey, keys: curve.own)
        }
        try zmqCall("zmq_connect(\(endpoint))") { zmq_connect(socket, endpoint) }
    }

    /// Disconnects from an endpoint given to `connect`.
    public func disconnect(_ endpoint: String) throws(ZMQError) {
        let socket = try open("zmq_disconnect(\(endpoint))")
        try zmqCall("zmq_disconnect(\(endpoint))") { zmq_disconnect(socket, endpoint) }
    }
}
