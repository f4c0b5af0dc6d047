import Testing
@testable import Client
@testable import Wire

/// `CellClient.callBatch(…, earlyReply: true)` gathers a batch's early reply and the answers that
/// come alone into the replies in the batch's order.
@Suite struct EarlyBatchGatheringTests {
    static func slot(_ id: UInt64, _ reply: Cellcluster_V1_Reply?) -> Envelope {
        var inner = Envelope()
        inner.protocolVersion = WireFormat.protocolVersion
        inner.requestID = id
        if let reply { inner.reply = reply }
        return inner
    }

    @Test func placeholdersAreFilledByTheAnswersThatComeAlone() throws {
        var gathered = EarlyBatch(ids: [5, 6, 7, 6])  // two requests under one id: each slot is answered once
        gathered.take(.with { $0.version = 99 }, requestID: 6)  // before the batch's reply: an earlier call's, ignored
        try gathered.take(.with { $0.replies = [Self.slot(5, .with { $0.version = 1 }), Self.slot(6, nil), Self.slot(7, nil), Self.slot(6, nil)] })
        #expect(gathered.complete == nil)
        gathered.take(.with { $0.version = 2 }, requestID: 6)
        gathered.take(.with { $0.version = 3 }, requestID: 8)  // not of this batch
        gathered.take(.with { $0.code = .wrongWorker }, requestID: 7)
        #expect(gathered.complete == nil)
        gathered.take(.with { $0.version = 4 }, requestID: 6)
        gathered.take(.with { $0.version = 5 }, requestID: 6)  // every slot of 6 has its answer
        let replies = try #require(gathered.complete)
        #expect(replies.map(\.version) == [1, 2, 0, 4])
        #expect(replies[2].code == .wrongWorker)
    }

    @Test func aBatchReplyThatIsNotOneIsRefused() throws {
        var gathered = EarlyBatch(ids: [5, 6])
        #expect(throws: ClientError.self) { try gathered.take(.with { $0.replies = [Self.slot(5, .init())] }) }  // a slot short
        #expect(throws: ClientError.self) { try gathered.take(.with { $0.replies = [Self.slot(6, .init()), Self.slot(5, .init())] }) }  // swapped
        // A slot holding something else than a reply or nothing is answered INTERNAL, not waited for.
        var odd = Self.slot(6, nil)
        odd.getEntity = .with { $0.entityID = 1 }
        try gathered.take(.with { $0.replies = [Self.slot(5, .init()), odd] })
        #expect(gathered.complete?.map(\.code) == [.ok, .internal])
    }
}
