import SwiftProtobuf

public typealias Envelope = Cellcluster_V1_Envelope

/// Encoding and decoding of envelopes to and from ZeroMQ frames.
public enum WireFormat {
    /// The protocol version this build speaks.
    public static let protocolVersion: UInt32 = 1
    /// Frames larger than this are refused before decoding (a world event payload is small).
    public static let maxFrameBytes = 16 * 1024 * 1024

    /// Serializes an envelope, stamping the protocol version (copying the envelope only when it
    /// does not carry it yet).
    public static func encode(_ envelope: Envelope) -> [UInt8] {
        // Serializing a message with only proto3 fields cannot fail.
        guard envelope.protocolVersion != protocolVersion else { return (try? envelope.serializedBytes()) ?? [] }
        var stamped = envelope
        stamped.protocolVersion = protocolVersion
        return (try? stamped.serializedBytes()) ?? []
    }

    /// The bytes of `envelope.reply(reply, sender:)` for a request with `requestID`, encoded
    /// without building the envelope: its three head fields by hand, then the reply. The same
    /// bytes as `encode` gives (fields in number order, defaults left out).
    public static func encodeReply(requestID: UInt64, sender: String, _ reply: Cellcluster_V1_Reply) -> [UInt8] {
        let body = encodeReplyBody(reply)
        var frame = encodeHead(requestID: requestID, sender: sender, reserving: 4 + body.count)
        appendVarint(UInt64(20 << 3 | 2), to: &frame)  // reply, length-delimited (even when empty: the oneof is set)
        appendVarint(UInt64(body.count), to: &frame)
        frame.append(contentsOf: body)
        return frame
    }

    /// An envelope's head fields as the generated encoder writes them (number order, defaults
    /// left out): the protocol version, the request id, the sender. Its body follows.
    static func encodeHead(requestID: UInt64, sender: String, reserving more: Int) -> [UInt8] {
        var frame: [UInt8] = []
        frame.reserveCapacity(12 + sender.utf8.count + more)
        appendHead(requestID: requestID, sender: sender, to: &frame)
        return frame
    }

    /// The same head, appended to `frame`.
    static func appendHead(requestID: UInt64, sender: String, to frame: inout [UInt8]) {
        appendWriting(ByteWriter.headBytes(sender: sender.utf8.count), to: &frame) { $0.head(requestID: requestID, sender: sender) }
    }

    /// A reply's bytes. The common answer to a change (a code, the map epoch, the version or
    /// queue position, durable) is written by hand; one with text or a result goes through the
    /// generated encoder. The same bytes either way.
    static func encodeReplyBody(_ reply: Cellcluster_V1_Reply) -> [UInt8] {
        guard reply.message.isEmpty, reply.redirectWorker.isEmpty, reply.redirectEndpoint.isEmpty, reply.result == nil,
              reply.unknownFields.data.isEmpty
        else { return (try? reply.serializedBytes()) ?? [] }
        var out: [UInt8] = []
        out.reserveCapacity(40)
        appendPlainReply(code: reply.code.rawValue, mapEpoch: reply.mapEpoch, deferred: reply.deferred, version: reply.version,
                         sequence: reply.sequence, durable: reply.durable, to: &out)
        return out
    }

    /// A reply's fields that carry no text or result, as the generated encoder writes them
    /// (number order, defaults left out).
    static func appendPlainReply(code: Int, mapEpoch: UInt64, deferred: Bool, version: UInt64, sequence: UInt64, durable: Bool,
                                 to out: inout [UInt8]) {
        appendWriting(ByteWriter.plainReplyBytes, to: &out) {
            $0.plainReply(code: code, mapEpoch: mapEpoch, deferred: deferred, version: version, sequence: sequence, durable: durable)
        }
    }

    /// Decodes and checks one frame.
    /// - Throws: `WireError` naming what is wrong: empty or oversized, truncated, malformed,
    ///   another protocol version, or no message in it.
    public static func decode(_ frame: [UInt8]) throws(WireError) -> Envelope {
        guard !frame.isEmpty else { throw WireError(.badSize, "empty frame: expected a serialized Envelope") }
        guard frame.count <= maxFrameBytes else {
            throw WireError(.badSize, "frame of \(frame.count) bytes exceeds the \(maxFrameBytes)-byte limit")
        }
        if let common = decodeCommon(frame) { return common }  // moves and replies, by hand (the same envelope)
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
    /// A batch reply's placeholder (`Batch.early_reply`): this build's protocol version and no
    /// body; its answer comes alone later.
    public var isPlaceholder: Bool { body == nil && protocolVersion == WireFormat.protocolVersion }
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
