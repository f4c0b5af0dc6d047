import SwiftProtobuf

public typealias Envelope = Cellcluster_V1_Envelope

/// Encoding and decoding of envelopes to and from ZeroMQ frames.
public enum WireFormat {
    /// The protocol version this build speaks.
    public static let protocolVersion: UInt32 = 1
    /// Frames larger than this are refused before decoding (a world event payload is small).
    public static let maxFrameBytes = 16 * 1024 * 1024

    /// Serializes an envelope, stamping the protocol version.
    public static func encode(_ envelope: Envelope) -> [UInt8] {
        var stamped = envelope
        stamped.protocolVersion = protocolVersion
        // Serializing a message with only proto3 fields cannot fail.
        return (try? stamped.serializedBytes()) ?? []
    }

    /// Decodes and checks one frame.
    /// - Throws: `WireError` naming what is wrong: empty or oversized, truncated, malformed,
    ///   another protocol version, or no message in it.
    public static func decode(_ frame: [UInt8]) throws(WireError) -> Envelope {
        guard !frame.isEmpty else { throw WireError(.badSize, "empty frame: expected a serialized Envelope") }
        guard frame.count <= maxFrameBytes else {
            throw WireError(.badSize, "frame of \(frame.count) bytes exceeds the \(maxFrameBytes)-byte limit")
        }
        let envelope: Envelope
        do {
            envelope = try Envelope(serializedBytes: frame)
        } catch let error as BinaryDecodingError {
            throw map(error, size: frame.count)
        } catch {
            throw WireError(.malformed, "not an Envelope (\(frame.count) bytes): \(error)")
        }
        guard envelope.protocolVersion == protocolVersion else {
            throw WireError(
                .unsupportedVersion,
                "protocol version \(envelope.protocolVersion) is not supported (this build speaks \(protocolVersion))",
                requestID: envelope.requestID)
        }
        guard envelope.body != nil else {
            throw WireError(.missingBody, "envelope \(envelope.requestID) carries no message", requestID: envelope.requestID)
        }
        return envelope
    }

    private static func map(_ error: BinaryDecodingError, size: Int) -> WireError {
        switch error {
        case .truncated:
            return WireError(.truncated, "frame of \(size) bytes ends in the middle of a field")
        case .invalidUTF8:
            return WireError(.malformed, "a string field is not valid UTF-8")
        default:
            return WireError(.malformed, "not an Envelope (\(size) bytes): \(error)")
        }
    }
}

extension Envelope {
    /// A reply to this request: same request id, the given body.
    public func reply(_ reply: Cellcluster_V1_Reply, sender: String) -> Envelope {
        var envelope = Envelope()
        envelope.protocolVersion = WireFormat.protocolVersion
        envelope.requestID = requestID
        envelope.sender = sender
        envelope.reply = reply
        return envelope
    }

    /// The error reply a process sends for a frame it could not use: with the envelope's request
    /// id when it decoded, 0 when it did not.
    public static func errorReply(for error: WireError, sender: String, mapEpoch: UInt64 = 0) -> Envelope {
        var reply = Cellcluster_V1_Reply()
        reply.code = error.replyCode
        reply.message = error.description
        reply.mapEpoch = mapEpoch
        var envelope = Envelope()
        envelope.protocolVersion = WireFormat.protocolVersion
        envelope.requestID = error.requestID ?? 0
        envelope.sender = sender
        envelope.reply = reply
        return envelope
    }
}
