/// An OK answer to a change: a `Reply` with no text, redirect or result, kept as plain values.
/// The worker's request log holds one per answered change (no bytes, nothing to free when it
/// goes), and both the first answer and a retry's are encoded from it by hand.
public struct ChangeAnswer: Equatable, Sendable {
    public var mapEpoch: UInt64 = 0
    public var version: UInt64 = 0
    public var sequence: UInt64 = 0
    public var deferred = false
    public var durable = false

    public init(mapEpoch: UInt64 = 0, version: UInt64 = 0, sequence: UInt64 = 0, deferred: Bool = false, durable: Bool = false) {
        self.mapEpoch = mapEpoch
        self.version = version
        self.sequence = sequence
        self.deferred = deferred
        self.durable = durable
    }

    /// The same answer as a generated message.
    public var reply: Cellcluster_V1_Reply {
        var reply = Cellcluster_V1_Reply()
        reply.mapEpoch = mapEpoch
        reply.version = version
        reply.sequence = sequence
        reply.deferred = deferred
        reply.durable = durable
        return reply
    }
}

extension WireFormat {
    /// The bytes of `encodeReply(requestID:sender:answer.reply)`, written into one buffer.
    public static func encodeReply(requestID: UInt64, sender: String, _ answer: ChangeAnswer) -> [UInt8] {
        var body = 0
        func size(_ value: UInt64) -> Int { value == 0 ? 0 : 1 + varintSize(value) }
        body += size(answer.mapEpoch) + (answer.deferred ? 2 : 0) + size(answer.version) + size(answer.sequence) + (answer.durable ? 2 : 0)
        var frame = encodeHead(requestID: requestID, sender: sender, reserving: 3 + body)
        appendVarint(UInt64(20 << 3 | 2), to: &frame)  // reply, length-delimited (even when empty: the oneof is set)
        frame.append(UInt8(body))  // at most 3 × 11 + 2 × 2 bytes: a one-byte length
        func varint(_ field: UInt8, _ value: UInt64) {
            guard value != 0 else { return }
            frame.append(field << 3)
            appendVarint(value, to: &frame)
        }
        varint(3, answer.mapEpoch)
        varint(6, answer.deferred ? 1 : 0)
        varint(7, answer.version)
        varint(8, answer.sequence)
        varint(9, answer.durable ? 1 : 0)
        return frame
    }
}
