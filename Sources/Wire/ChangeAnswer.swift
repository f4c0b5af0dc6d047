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

    /// The plain fields of `reply` (its code, text and result aside).
    public init(_ reply: Cellcluster_V1_Reply) {
        self.init(mapEpoch: reply.mapEpoch, version: reply.version, sequence: reply.sequence, deferred: reply.deferred, durable: reply.durable)
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
    /// The bytes of `encodeReply(requestID:sender:answer.reply)`, written into one buffer: the
    /// body's one-byte length (at most 3 × 11 + 2 × 2 bytes) is filled in after the body.
    public static func encodeReply(requestID: UInt64, sender: String, _ answer: ChangeAnswer) -> [UInt8] {
        var frame: [UInt8] = []
        frame.reserveCapacity(maxChangeAnswerBytes(sender: sender))
        appendReply(requestID: requestID, sender: sender, answer, to: &frame)
        return frame
    }

    /// The most bytes `encodeReply(requestID:sender:_:)` writes for a sender of this name: the
    /// head (version, id, sender), the reply's tag and length, and its fields (three numbers
    /// of at most 11 bytes, two flags of 2).
    public static func maxChangeAnswerBytes(sender: String) -> Int {
        2 + 11 + 1 + varintSize(UInt64(sender.utf8.count)) + sender.utf8.count + 3 + 3 * 11 + 2 * 2
    }

    /// The same bytes, appended to `frame` (a batch's replies are written into one buffer).
    public static func appendReply(requestID: UInt64, sender: String, _ answer: ChangeAnswer, to frame: inout [UInt8]) {
        appendWriting(ByteWriter.headBytes(sender: sender.utf8.count) + 3 + ByteWriter.plainReplyBytes, to: &frame) { w in
            w.head(requestID: requestID, sender: sender)
            w.changeAnswer(answer)
        }
    }

    /// The same from a sender encoded once (a worker's every reply names it).
    /// (The room counts the field's tag and length twice: a few bytes more than it needs, and no
    /// count of the name's bytes, which took ~50 instructions a reply.)
    public static func appendReply(requestID: UInt64, sender: EncodedSender, _ answer: ChangeAnswer, to frame: inout [UInt8]) {
        appendWriting(ByteWriter.headBytes(sender: sender.field.count) + 3 + ByteWriter.plainReplyBytes, to: &frame) { w in
            w.head(requestID: requestID, sender: sender)
            w.changeAnswer(answer)
        }
    }
}

extension ByteWriter {
    /// A change answer's `reply` field after the head: its tag, its one-byte length, its fields.
    @inline(__always)
    mutating func changeAnswer(_ answer: ChangeAnswer) {
        varint(UInt64(20 << 3 | 2))  // reply, length-delimited (even when empty: the oneof is set)
        let length = position
        byte(0)  // the reply's length, set below (its fields take fewer than 128 bytes)
        plainReply(code: 0, mapEpoch: answer.mapEpoch, deferred: answer.deferred, version: answer.version,
                   sequence: answer.sequence, durable: answer.durable)
        set(UInt8(position - length - 1), at: length)
    }
}
