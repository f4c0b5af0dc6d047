import CZeroMQ

/// An error reported by libzmq, with the errno it set and the call that failed.
public struct ZMQError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The errno value libzmq reported (`zmq_errno()`), e.g. `EADDRINUSE`.
    public let code: Int32
    /// The libzmq call that failed, e.g. `zmq_bind(tcp://127.0.0.1:0)`.
    public let call: String
    /// libzmq's text for `code`.
    public let message: String

    public init(code: Int32, call: String) {
        self.code = code
        self.call = call
        self.message = String(cString: zmq_strerror(code))
    }

    /// True when the context was terminated under the socket (ETERM): the owner should close and stop.
    public var isContextTerminated: Bool { code == ETERM }

    public var description: String { "\(call) failed: \(message) (errno \(code))" }

    /// Reads errno right after a failed call.
    static func last(_ call: @autoclosure () -> String) -> ZMQError {
        ZMQError(code: zmq_errno(), call: call())
    }
}

/// Runs a libzmq call that returns -1 on failure, retrying on EINTR.
/// - Returns: the call's non-negative result, or nil when it would block (EAGAIN).
@discardableResult
func zmqCall(_ name: @autoclosure () -> String, _ body: () -> Int32) throws(ZMQError) -> Int32? {
    while true {
        let rc = body()
        if rc >= 0 { return rc }
        let code = zmq_errno()
        if code == EINTR { continue }
        if code == EAGAIN { return nil }
        throw ZMQError(code: code, call: name())
    }
}
