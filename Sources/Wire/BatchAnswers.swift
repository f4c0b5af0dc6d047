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

    /// A reply with a code and the plain fields of a change's answer only, each at most once (no
    /// text, redirect or result).
    mutating func plainReply() -> BatchAnswers.Answer? {
        guard let reply = replyFields(), reply.message.isEmpty, reply.redirectWorker.isEmpty, reply.redirectEndpoint.isEmpty,
              reply.entity == nil
        else { return nil }
        return BatchAnswers.Answer(requestID: 0, code: reply.code, answer: reply.answer)
    }
}
