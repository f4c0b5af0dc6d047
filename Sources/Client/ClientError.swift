import Wire
import ZeroMQ

/// Why a client request did not get an OK answer.
public enum ClientError: Error, CustomStringConvertible, Sendable {
    /// No reply after every attempt.
    case timeout(requestID: UInt64, attempts: Int, endpoint: String)
    /// The socket failed.
    case transport(ZMQError)
    /// The worker answered with an error code.
    case rejected(code: Cellcluster_V1_ErrorCode, message: String)

    public var description: String {
        switch self {
        case let .timeout(id, attempts, endpoint):
            "request \(id) got no reply from \(endpoint) after \(attempts) attempt(s) (a cluster with CURVE answers only known keys: give its key folder with CELLCLUSTER_KEYS or --set security.keys)"
        case let .transport(error):
            "transport: \(error)"
        case let .rejected(code, message):
            "\(code): \(message)"
        }
    }
}
