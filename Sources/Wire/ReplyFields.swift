/// A reply as plain values: its code, text, redirect, the plain fields of a change's answer and
/// the entity a read returned. What a client that keeps no messages needs of an answer (the
/// soak's load generator reads every answer of a run). A cell result has no place here: a reply
/// with one is read by `decode`.
public struct ReplyFields: Sendable, Equatable {
    /// The request id of the envelope that carried it.
    public var requestID: UInt64 = 0
    public var code: Cellcluster_V1_ErrorCode = .ok
    public var message = ""
    public var redirectWorker = ""
    public var redirectEndpoint = ""
    public var answer = ChangeAnswer()
    public var entity: Cellcluster_V1_EntityState?

    public init() {}

    /// The fields of `reply` (its cell result aside), answering `requestID`.
    public init(_ reply: Cellcluster_V1_Reply, requestID: UInt64) {
        self.requestID = requestID
        code = reply.code
        message = reply.message
        redirectWorker = reply.redirectWorker
        redirectEndpoint = reply.redirectEndpoint
        answer = ChangeAnswer(reply)
        if case .entity(let state)? = reply.result { entity = state }
    }

    /// The same reply as a generated message.
    public var reply: Cellcluster_V1_Reply {
        var reply = answer.reply
        reply.code = code
        reply.message = message
        reply.redirectWorker = redirectWorker
        reply.redirectEndpoint = redirectEndpoint
        if let entity { reply.entity = entity }
        return reply
    }
}

extension WireFormat {
    /// The replies in `frame` when it is a reply or a batch reply that `decodeCommon` reads (this
    /// build's protocol version; each reply without a result or with an entity), in order; nil
    /// for any other frame. No envelope or reply message is made: only the entities of reads.
    /// Every frame taken here decodes in `decode` to the same replies under the same request ids,
    /// but for the placeholders of a batch reply (`Batch.early_reply`), which are left out.
    public static func decodeReplies(_ frame: [UInt8]) -> [ReplyFields]? {
        var sender = ""  // a batch's replies each name the worker: checked once, then compared
        return FieldReader.read(frame) { reader in
            reader.headed(sender: true) { reader, field -> (batch: Bool, replies: [ReplyFields])? in
                switch field {
                case 20: reader.replyFields().map { (false, [$0]) }  // Envelope.reply
                case 21:  // Envelope.batch_reply; a placeholder (an answer that comes alone later) is left out
                    reader.repeated(bytesEach: 24) { $0.batchSlot(knownSender: &sender) }.map { (true, $0.compactMap { $0 }) }
                default: nil
                }
            }.map { head in
                guard !head.body.batch else { return head.body.replies }
                var alone = head.body.replies[0]
                alone.requestID = head.requestID
                return [alone]
            }
        }
    }
}

extension FieldReader {
    /// An envelope in a batch reply: protocol version, request id, sender (not kept), and a reply.
    /// `knownSender`: the sender of the reply before, reused when this one names the same bytes
    /// (no text checked and made again); set to this one's.
    mutating func replyEnvelope(knownSender: inout String) -> ReplyFields? {
        headed(sender: true, known: knownSender) { reader, field in field == 20 ? reader.replyFields() : nil }.map { head in
            knownSender = head.sender
            var reply = head.body
            reply.requestID = head.requestID
            return reply
        }
    }

    /// A slot of a batch reply: its reply, or nil for a placeholder (`Batch.early_reply`: an
    /// envelope of this build's protocol version with a request id, maybe a sender, and no body).
    mutating func batchSlot(knownSender: inout String) -> ReplyFields?? {
        let start = self
        if let reply = replyEnvelope(knownSender: &knownSender) { return .some(reply) }
        self = start
        return placeholder() ? .some(nil) : nil
    }

    /// An envelope holding no more than its protocol version (this build's), a request id and a
    /// sender, each at most once.
    mutating func placeholder() -> Bool {
        var version: UInt64 = 0
        var seen: UInt32 = 0
        while !atEnd {
            guard let (field, wire) = tag(), field <= 3, seen & 1 << field == 0 else { return false }
            seen |= 1 << field
            switch (field, wire) {
            case (1, 0):
                guard let value = varint() else { return false }
                version = value
            case (2, 0):
                guard varint() != nil else { return false }
            case (3, 2):
                guard text() != nil else { return false }  // UTF-8, as the generated decoder insists
            default:
                return false
            }
        }
        return version == UInt64(WireFormat.protocolVersion)
    }

    /// A reply without a result (an answer to a change, or an error) or with an entity (an
    /// answer to a read), each field at most once.
    mutating func replyFields() -> ReplyFields? {
        var reply = ReplyFields()
        var seen: UInt32 = 0
        while !atEnd {
            guard let (field, wire) = field(upTo: 10, seen: &seen) else { return nil }
            switch (field, wire) {
            case (10, 2):
                guard let entity = message({ $0.entityState() }) else { return nil }
                reply.entity = entity
            case (2, 2), (4, 2), (5, 2):
                guard let text = text() else { return nil }
                switch field {
                case 2: reply.message = text
                case 4: reply.redirectWorker = text
                default: reply.redirectEndpoint = text
                }
            case (_, 0):
                guard let value = varint() else { return nil }
                switch field {
                case 1:
                    // An enum is an int32: a value outside it is left to the generated decoder.
                    guard value <= UInt64(Int32.max), let code = Cellcluster_V1_ErrorCode(rawValue: Int(value)) else { return nil }
                    reply.code = code
                case 3: reply.answer.mapEpoch = value
                case 6: reply.answer.deferred = value != 0
                case 7: reply.answer.version = value
                case 8: reply.answer.sequence = value
                case 9: reply.answer.durable = value != 0
                default: return nil
                }
            default:
                return nil
            }
        }
        return reply
    }
}
