/// The answers of a batch reply in which every reply is a code and the plain fields of a
/// change's answer (no text, redirect or result): what a batch of moves gets back, read from its
/// frame into plain values (no envelope or reply message per answer). A reply with anything
/// more (an error's message, an entity) makes the frame one for `decode`.
public struct BatchAnswers: Sendable {
    public struct Answer: Sendable, Equatable {
        public var requestID: UInt64
        public var code: Cellcluster_V1_ErrorCode
        public var answer: ChangeAnswer

        public init(requestID: UInt64, code: Cellcluster_V1_ErrorCode, answer: ChangeAnswer) {
            self.requestID = requestID
            self.code = code
            self.answer = answer
        }
    }

    /// The batch reply envelope's request id (the batch's) and sender.
    public var requestID: UInt64
    public var sender: String
    public var answers: [Answer]
}

extension WireFormat {
    /// The answers of `frame` when it is a batch reply of plain answers in this build's protocol
    /// version, each field at most once; nil for any other frame. Every frame taken here decodes
    /// in `decode` to a batch reply of replies with these values.
    public static func decodeBatchAnswers(_ frame: [UInt8]) -> BatchAnswers? {
        FieldReader.read(frame) { $0.batchAnswers() }
    }
}

extension FieldReader {
    /// A top-level envelope: protocol version, request id, sender, and a batch reply.
    mutating func batchAnswers() -> BatchAnswers? {
        headed(sender: true) { reader, field in
            field == 21 ? reader.repeated(bytesEach: 24) { $0.plainAnswerEnvelope() } : nil  // Envelope.batch_reply; an answer is 24–40 bytes
        }.map { BatchAnswers(requestID: $0.requestID, sender: $0.sender, answers: $0.body) }
    }

    /// A reply envelope: protocol version, request id, sender (not kept), and a plain reply.
    mutating func plainAnswerEnvelope() -> BatchAnswers.Answer? {
        headed(sender: true) { reader, field in field == 20 ? reader.plainReply() : nil }.map { head in
            var answer = head.body
            answer.requestID = head.requestID
            return answer
        }
    }

    /// A reply with a code and the plain fields of a change's answer only, each at most once.
    mutating func plainReply() -> BatchAnswers.Answer? {
        var reply = BatchAnswers.Answer(requestID: 0, code: .ok, answer: ChangeAnswer())
        var seen: UInt32 = 0
        while !atEnd {
            guard let (field, wire) = field(upTo: 9, seen: &seen), wire == 0, let value = varint() else { return nil }
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
        }
        return reply
    }
}
