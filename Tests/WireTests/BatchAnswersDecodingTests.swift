import SwiftProtobuf
import Testing
@testable import Wire

/// `WireFormat.decodeBatchAnswers` takes a frame only when `decode` reads it as a batch reply of
/// replies with the same values, and leaves every other frame to `decode`.
@Suite struct BatchAnswersDecodingTests {
    /// The answers `decode` reads from `frame` (nil: not a batch reply, or a reply with more
    /// than a plain answer).
    static func generalAnswers(_ frame: [UInt8]) -> BatchAnswers? {
        guard let envelope = try? WireFormat.decode(frame), case .batchReply(let batch)? = envelope.body else { return nil }
        var answers: [BatchAnswers.Answer] = []
        for inner in batch.replies {
            guard case .reply(let r)? = inner.body else { return nil }
            answers.append(.init(requestID: inner.requestID, code: r.code, answer: ChangeAnswer(r)))
        }
        return BatchAnswers(requestID: envelope.requestID, sender: envelope.sender, answers: answers)
    }

    static func same(_ a: BatchAnswers, _ b: BatchAnswers) -> Bool {
        a.requestID == b.requestID && a.sender == b.sender && a.answers == b.answers
    }

    static var plainReplies: [Cellcluster_V1_Reply] {
        [.init(), .with { $0.version = 7; $0.mapEpoch = 3 }, .with { $0.version = .max; $0.deferred = true; $0.sequence = .max; $0.durable = true },
         .with { $0.code = .overloaded }, .with { $0.code = .wrongWorker; $0.mapEpoch = 9 }, .with { $0.code = .UNRECOGNIZED(77) }]
    }

    static var samples: [[UInt8]] {
        // As a worker writes them, then from the generated encoder.
        var answers: [ChangeAnswer] = []
        for i in 0..<64 {
            let queued = i % 5 == 0
            answers.append(ChangeAnswer(mapEpoch: 2, version: UInt64(i), sequence: queued ? UInt64(i) : 0, deferred: queued, durable: i % 7 == 0))
        }
        var frames = [SampleReplies.written(answers)]
        for (n, sender) in [(1, ""), (6, "worker:é")] {
            frames.append(SampleReplies.generated(Self.plainReplies.prefix(n), requestID: UInt64(n), sender: sender))
        }
        return frames
    }

    @Test func everyBatchOfPlainAnswersDecodesAsDecodeReadsIt() throws {
        for frame in Self.samples {
            let fast = try #require(WireFormat.decodeBatchAnswers(frame), "a batch reply of plain answers is taken")
            let general = try #require(Self.generalAnswers(frame))
            #expect(Self.same(fast, general), "frame \(frame)")
            #expect(!fast.answers.isEmpty)
        }
    }

    @Test func mutatedFramesAreTakenOnlyWhenDecodeReadsTheSameAnswers() throws {
        let taken = try Mutation.taken(of: Self.samples, seed: 11, perFrame: 3000, by: WireFormat.decodeBatchAnswers) { mutated, fast in
            let general = try #require(Self.generalAnswers(mutated), "taken, but decode reads no batch reply of plain answers from \(mutated)")
            #expect(Self.same(fast, general), "frame \(mutated)")
        }
        #expect(taken > 300, "the mutations kept many frames of this shape (most break a length)")
    }

    @Test func otherFramesAreLeftToDecode() throws {
        func batch(_ replies: [Cellcluster_V1_Reply]) -> [UInt8] {
            var envelope = Envelope()
            envelope.protocolVersion = WireFormat.protocolVersion
            envelope.requestID = 1
            envelope.batchReply = .with { $0.replies = replies.map { var r = Envelope(); r.requestID = 2; return r.reply($0, sender: "w") } }
            return (try? envelope.serializedBytes()) ?? []
        }
        #expect(WireFormat.decodeBatchAnswers(batch([.init()])) != nil)
        #expect(WireFormat.decodeBatchAnswers(batch([.init(), .with { $0.code = .overloaded; $0.message = "retry" }])) == nil, "an answer with text")
        #expect(WireFormat.decodeBatchAnswers(batch([.with { $0.entity = .with { $0.entityID = 1 } }])) == nil, "an answer with an entity")
        #expect(WireFormat.decodeBatchAnswers(batch([.with { $0.redirectWorker = "w2" }])) == nil, "a redirect")
        var single = Envelope()
        single.requestID = 3
        #expect(WireFormat.decodeBatchAnswers(WireFormat.encode(single.reply(.init(), sender: "w"))) == nil, "a reply alone")
        let frame = batch([.init(), .with { $0.version = 4 }])
        #expect(WireFormat.decodeBatchAnswers(frame + [0x20, 0x01]) == nil, "an unknown field")
        #expect(WireFormat.decodeBatchAnswers(Array(frame.dropLast())) == nil, "truncated")
        #expect(WireFormat.decodeBatchAnswers([]) == nil)
    }
}
