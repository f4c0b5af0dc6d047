import CZeroMQ

extension Socket {
    func setInt(_ option: Int32, _ value: Int32, _ name: String) throws(ZMQError) {
        let socket = try open("zmq_setsockopt(\(name))")
        var v = value
        try zmqCall("zmq_setsockopt(\(name))") {
            zmq_setsockopt(socket, option, &v, MemoryLayout<Int32>.size)
        }
    }

    func setBytes(_ option: Int32, _ value: [UInt8], _ name: String) throws(ZMQError) {
        let socket = try open("zmq_setsockopt(\(name))")
        try zmqCall("zmq_setsockopt(\(name))") {
            value.withUnsafeBytes { zmq_setsockopt(socket, option, $0.baseAddress, $0.count) }
        }
    }

    func getInt(_ option: Int32, _ name: String) throws(ZMQError) -> Int32 {
        let socket = try open("zmq_getsockopt(\(name))")
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        try zmqCall("zmq_getsockopt(\(name))") { zmq_getsockopt(socket, option, &value, &size) }
        return value
    }

    func getBytes(_ option: Int32, _ name: String, capacity: Int = 256) throws(ZMQError) -> [UInt8] {
        let socket = try open("zmq_getsockopt(\(name))")
        var buffer = [UInt8](repeating: 0, count: capacity)
        var size = capacity
        try zmqCall("zmq_getsockopt(\(name))") {
            buffer.withUnsafeMutableBytes { zmq_getsockopt(socket, option, $0.baseAddress, &size) }
        }
        return Array(buffer.prefix(size))
    }

    /// How long, in milliseconds, unsent messages are kept after `close` (0: dropped at once, -1: forever).
    public func setLinger(milliseconds: Int32) throws(ZMQError) {
        try setInt(ZMQ_LINGER, milliseconds, "ZMQ_LINGER")
    }

    /// Outgoing queue limit in messages; past it a send blocks or fails with would-block (0: none).
    public func setSendHighWaterMark(_ messages: Int32) throws(ZMQError) {
        try setInt(ZMQ_SNDHWM, messages, "ZMQ_SNDHWM")
    }

    /// Incoming queue limit in messages (0: none).
    public func setReceiveHighWaterMark(_ messages: Int32) throws(ZMQError) {
        try setInt(ZMQ_RCVHWM, messages, "ZMQ_RCVHWM")
    }

    /// The largest message this socket receives, in bytes (-1: no limit). A peer that sends a
    /// larger one is disconnected as soon as its size is read, before the message is buffered.
    public func setMaximumMessageSize(_ bytes: Int64) throws(ZMQError) {
        let socket = try open("zmq_setsockopt(ZMQ_MAXMSGSIZE)")
        var v = bytes
        try zmqCall("zmq_setsockopt(ZMQ_MAXMSGSIZE)") {
            zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &v, MemoryLayout<Int64>.size)
        }
    }

    /// The identity a ROUTER peer sees for this socket; set before `connect`. 1 to 255 bytes.
    public func setRoutingID(_ id: [UInt8]) throws(ZMQError) {
        try setBytes(ZMQ_ROUTING_ID, id, "ZMQ_ROUTING_ID")
    }

    /// This socket's routing id as set with `setRoutingID` (empty when none was set).
    public func routingID() throws(ZMQError) -> [UInt8] {
        try getBytes(ZMQ_ROUTING_ID, "ZMQ_ROUTING_ID")
    }

    /// Initial delay, in milliseconds, before reconnecting to a peer that went away.
    public func setReconnectInterval(milliseconds: Int32) throws(ZMQError) {
        try setInt(ZMQ_RECONNECT_IVL, milliseconds, "ZMQ_RECONNECT_IVL")
    }

    /// How long a blocking receive waits, in milliseconds, before returning nil (-1: forever).
    public func setReceiveTimeout(milliseconds: Int32) throws(ZMQError) {
        try setInt(ZMQ_RCVTIMEO, milliseconds, "ZMQ_RCVTIMEO")
    }

    /// How long a blocking send waits, in milliseconds, before reporting would-block (-1: forever).
    public func setSendTimeout(milliseconds: Int32) throws(ZMQError) {
        try setInt(ZMQ_SNDTIMEO, milliseconds, "ZMQ_SNDTIMEO")
    }

    /// ROUTER only: fail a send to an unknown routing id with EHOSTUNREACH instead of dropping it.
    public func setRouterMandatory(_ on: Bool) throws(ZMQError) {
        try setInt(ZMQ_ROUTER_MANDATORY, on ? 1 : 0, "ZMQ_ROUTER_MANDATORY")
    }

    /// SUB only: receive messages whose first frame starts with `prefix` (empty: everything).
    public func subscribe(_ prefix: [UInt8] = []) throws(ZMQError) {
        try setBytes(ZMQ_SUBSCRIBE, prefix, "ZMQ_SUBSCRIBE")
    }

    /// SUB only: stop receiving messages for a prefix given to `subscribe`.
    public func unsubscribe(_ prefix: [UInt8] = []) throws(ZMQError) {
        try setBytes(ZMQ_UNSUBSCRIBE, prefix, "ZMQ_UNSUBSCRIBE")
    }

    /// Makes this socket a CURVE server holding `secretKey` (Z85 text, 40 characters). Set before `bind`.
    public func setCurveServer(secretKey: String) throws(ZMQError) {
        try setInt(ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER")
        try setBytes(ZMQ_CURVE_SECRETKEY, Array(secretKey.utf8), "ZMQ_CURVE_SECRETKEY")
    }

    /// Makes this socket a CURVE client of the server whose public key is `serverKey`. Set before `connect`.
    public func setCurveClient(serverKey: String, keys: CurveKeyPair) throws(ZMQError) {
        try setBytes(ZMQ_CURVE_SERVERKEY, Array(serverKey.utf8), "ZMQ_CURVE_SERVERKEY")
        try setBytes(ZMQ_CURVE_PUBLICKEY, Array(keys.publicKey.utf8), "ZMQ_CURVE_PUBLICKEY")
        try setBytes(ZMQ_CURVE_SECRETKEY, Array(keys.secretKey.utf8), "ZMQ_CURVE_SECRETKEY")
    }

    /// The endpoint most recently bound, with the port the system chose for `tcp://…:0`.
    public func lastEndpoint() throws(ZMQError) -> String {
        let bytes = try getBytes(ZMQ_LAST_ENDPOINT, "ZMQ_LAST_ENDPOINT", capacity: 1024)
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
}

/// A CURVE key pair in Z85 text (40 characters each).
public struct CurveKeyPair: Sendable, Equatable {
    public let publicKey: String
    public let secretKey: String

    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// Generates a new key pair.
    /// - Throws: `ZMQError` with ENOTSUP when libzmq was built without CURVE.
    public static func generate() throws(ZMQError) -> CurveKeyPair {
        var pub = [CChar](repeating: 0, count: 41)
        var sec = [CChar](repeating: 0, count: 41)
        try zmqCall("zmq_curve_keypair") { zmq_curve_keypair(&pub, &sec) }
        return CurveKeyPair(
            publicKey: String(decoding: pub.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self),
            secretKey: String(decoding: sec.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
}
