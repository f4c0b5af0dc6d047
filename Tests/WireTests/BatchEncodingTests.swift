import Testing
@testable import Wire

@Suite struct BatchEncodingTests {
    @Test func aBatchReplyMadeOfEncodedRepliesDecodesAsTheGeneratedType() throws {
        let replies: [Envelope] = (0..<300).map { i in
            Envelope.with {
                $0.requestID = UInt64(i) * 1_000_003
                $0.sender = "worker:w1"
                $0.reply = .with { $0.code = i % 7 == 0 ? .wrongWorker : .ok; $0.version = UInt64(i); $0.message = String(repeating: "x", count: i) }
            }
        }
        let frame = WireFormat.encodeBatchReply(requestID: 42, sender: "worker:w1", replies: replies.map(WireFormat.encode))
        let decoded = try WireFormat.decode(frame)
        #expect(decoded.requestID == 42 && decoded.sender == "worker:w1")
        let batch = try #require({ if case .batchReply(let b)? = decoded.body { return b } else { return nil } }())
        #expect(batch.replies.count == 300)
        for (got, sent) in zip(batch.replies, replies) {
            var stamped = sent
            stamped.protocolVersion = WireFormat.protocolVersion
            #expect(got == stamped)
        }
        // The same frame as the generated encoder's, field for field.
        var generated = Envelope.with { $0.requestID = 42; $0.sender = "worker:w1" }
        generated.batchReply = .with { $0.replies = replies.map { var e = $0; e.protocolVersion = WireFormat.protocolVersion; return e } }
        #expect(try WireFormat.decode(WireFormat.encode(generated)) == decoded)
    }

    /// Replies written back to back into one buffer, in the order they were answered, give the
    /// same frame as the same replies one array each, in the batch's order.
    @Test func aBatchReplyFromOneBufferIsTheSameFrame() throws {
        var random = SystemRandomNumberGenerator()
        let answers: [ChangeAnswer?] = (0..<200).map { i in
            i % 17 == 5 ? nil : ChangeAnswer(version: UInt64.random(in: 0...UInt64.max, using: &random), durable: i % 3 == 0)
        }
        let replies = answers.enumerated().map { slot, answer in
            answer.map { WireFormat.encodeReply(requestID: UInt64(slot) * 977, sender: "worker:w2", $0) } ?? []
        }
        var buffer: [UInt8] = []
        var starts = [Int32](repeating: 0, count: replies.count), counts = [Int32](repeating: -1, count: replies.count)
        for slot in answers.indices.shuffled(using: &random) {
            guard let answer = answers[slot] else { continue }
            starts[slot] = Int32(buffer.count)
            WireFormat.appendReply(requestID: UInt64(slot) * 977, sender: "worker:w2", answer, to: &buffer)
            counts[slot] = Int32(buffer.count) - starts[slot]
        }
        #expect(WireFormat.encodeBatchReply(requestID: 9, sender: "worker:w2", replies: buffer, starts: starts, counts: counts)
                == WireFormat.encodeBatchReply(requestID: 9, sender: "worker:w2", replies: replies))
    }

    /// The room a worker keeps for an early reply's placeholders (`Batch.early_reply`) is enough.
    @Test func noPlaceholderIsLongerThanItsBound() throws {
        for sender in ["", "w", "worker:w1", String(repeating: "é", count: 200)] {
            for id in [UInt64(0), 1, 1 << 35, .max] {
                var placeholder: [UInt8] = []
                WireFormat.appendPlaceholder(requestID: id, sender: sender, to: &placeholder)
                let slot = 1 + WireFormat.varintSize(UInt64(placeholder.count)) + placeholder.count  // its tag, its length, itself
                #expect(slot <= WireFormat.maxPlaceholderBytes(sender: sender), "id \(id), sender of \(sender.utf8.count) bytes")
                #expect(try WireFormat.decode(WireFormat.encodeBatchReply(requestID: 1, sender: "w", replies: [placeholder])).batchReply.replies
                        .map(\.requestID) == [id])
            }
        }
    }

    @Test func noChangeAnswerIsLongerThanItsBound() {
        let widest = ChangeAnswer(mapEpoch: .max, version: .max, sequence: .max, deferred: true, durable: true)
        for sender in ["", "w", "worker:w1", String(repeating: "s", count: 200)] {
            for id in [UInt64(0), 1, 1 << 35, .max] {
                for answer in [ChangeAnswer(), widest] {
                    #expect(WireFormat.encodeReply(requestID: id, sender: sender, answer).count <= WireFormat.maxChangeAnswerBytes(sender: sender))
                }
            }
            #expect(WireFormat.encodeReply(requestID: .max, sender: sender, widest).count >= WireFormat.maxChangeAnswerBytes(sender: sender) - 2)  // and not loose
        }
    }

    @Test func anEmptyBatchReplyStillCarriesItsBody() throws {
        let decoded = try WireFormat.decode(WireFormat.encodeBatchReply(requestID: 7, sender: "w", replies: []))
        guard case .batchReply(let b)? = decoded.body else { Issue.record("no batch reply body"); return }
        #expect(b.replies.isEmpty)
    }

    @Test func onlyGameRequestsMayBeBatched() {
        #expect(WireFormat.isBatchable(.moveEntity(.init())))
        #expect(WireFormat.isBatchable(.getCell(.init())))
        #expect(!WireFormat.isBatchable(.batch(.init())))
        #expect(!WireFormat.isBatchable(.handoffOffer(.init())))
        #expect(!WireFormat.isBatchable(.statusRequest(.init())))
        #expect(!WireFormat.isBatchable(nil))
    }
}
