/// A frame that is not a valid CellCluster envelope.
public struct WireError: Error, CustomStringConvertible, Sendable, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public var description: String { name }
        /// The frame ends in the middle of a field.
        public static let truncated = Code(name: "truncated")
        /// The bytes are not a protobuf Envelope (bad tag, wire type, length or UTF-8).
        public static let malformed = Code(name: "malformed")
        /// The envelope speaks a protocol version this process does not.
        public static let unsupportedVersion = Code(name: "unsupportedVersion")
        /// The envelope decoded but carries no message.
        public static let missingBody = Code(name: "missingBody")
        /// The frame is empty or larger than the limit.
        public static let badSize = Code(name: "badSize")
    }

    public let code: Code
    public let message: String
    /// The request id of the envelope, when it decoded (another protocol version, no message):
    /// the error reply carries it so the client can match it. Nil when the frame did not decode.
    public let requestID: UInt64?

    public init(_ code: Code, _ message: String, requestID: UInt64? = nil) {
        self.code = code
        self.message = message
        self.requestID = requestID
    }

    public var description: String { "\(code): \(message)" }

    /// The reply code a peer receives for this error.
    public var replyCode: Cellcluster_V1_ErrorCode {
        code == .unsupportedVersion ? .unsupportedVersion : .malformedFrame
    }
}
