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
