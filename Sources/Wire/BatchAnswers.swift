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
        guard !frame.isEmpty, frame.count <= maxFrameBytes else { return nil }
        return frame.withUnsafeBufferPointer { buffer in
            var reader = FieldReader(buffer, from: 0, to: buffer.count)
            return reader.batchAnswers()
        }
    }
}

extension FieldReader {
    /// A top-level envelope: protocol version, request id, sender, and a batch reply.
    mutating func batchAnswers() -> BatchAnswers? {
        var batch = BatchAnswers(requestID: 0, sender: "", answers: [])
        var version: UInt64 = 0
        var seen: UInt32 = 0
        while !atEnd {
            guard let (field, wire) = field(upTo: 21, seen: &seen) else { return nil }
            switch (field, wire) {
            case (1, 0):
                guard let read = varint() else { return nil }
                version = read
            case (2, 0):
                guard let id = varint() else { return nil }
                batch.requestID = id
            case (3, 2):
                guard let sender = text() else { return nil }
                batch.sender = sender
            case (21, 2):
                guard let answers = message({ $0.plainAnswers() }) else { return nil }
                batch.answers = answers
            default:
                return nil
            }
        }
        guard version == UInt64(WireFormat.protocolVersion), seen & 1 << 21 != 0 else { return nil }
        return batch
    }

    /// A `BatchReply` whose replies (field 1, repeated) are all plain answers.
    mutating func plainAnswers() -> [BatchAnswers.Answer]? {
        var answers: [BatchAnswers.Answer] = []
        answers.reserveCapacity((end - at) / 24)  // a change's answer envelope is 24–40 bytes
        while !atEnd {
            guard let (field, wire) = tag(), field == 1, wire == 2, let answer = message({ $0.plainAnswerEnvelope() }) else { return nil }
            answers.append(answer)
        }
        return answers
    }

    /// A reply envelope: protocol version, request id, sender (not kept), and a plain reply.
    mutating func plainAnswerEnvelope() -> BatchAnswers.Answer? {
        var version: UInt64 = 0
        var answer: BatchAnswers.Answer?
        var requestID: UInt64 = 0
        var seen: UInt32 = 0
        while !atEnd {
            guard let (field, wire) = field(upTo: 20, seen: &seen) else { return nil }
            switch (field, wire) {
            case (1, 0):
                guard let read = varint() else { return nil }
                version = read
            case (2, 0):
                guard let id = varint() else { return nil }
                requestID = id
            case (3, 2):
                guard text() != nil else { return nil }  // UTF-8, as the generated decoder requires
            case (20, 2):
                guard let reply = message({ $0.plainReply() }) else { return nil }
                answer = reply
            default:
                return nil
            }
        }
        guard version == UInt64(WireFormat.protocolVersion), var answer else { return nil }
        answer.requestID = requestID
        return answer
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
