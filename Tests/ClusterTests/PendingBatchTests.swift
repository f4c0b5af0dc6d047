import Testing
import Wire
@testable import Cluster

/// A batch's answers in one buffer: in any order, each slot once, never past the limit.
@Suite struct PendingBatchTests {
    static func answer(_ slot: Int) -> ChangeAnswer { ChangeAnswer(version: UInt64(slot) &* 0x9E37_79B9, durable: slot % 2 == 0) }
    static let sender = EncodedSender("worker:w1")
    static func reply(_ slot: Int) -> [UInt8] { WireFormat.encodeReply(requestID: UInt64(slot) + 100, sender: "worker:w1", answer(slot)) }

    @Test func answersInAnyOrderMakeTheBatchReplyInTheBatchsOrder() {
        var batch = PendingBatch(peer: [1, 2, 3, 4, 5], requestID: 9, received: .now, count: 6)
        var outcomes: [PendingBatch.Filing] = []
        for slot in [4, 0, 5, 2] {
            outcomes.append(batch.file(Self.answer(slot), requestID: UInt64(slot) + 100, sender: Self.sender, in: slot, limit: 1 << 20).0)
        }
        outcomes.append(batch.file(Self.reply(1), in: 1, limit: 1 << 20))  // an answer given some other way (a redirect, a stored reply)
        #expect(batch.file(Self.answer(4), requestID: 104, sender: Self.sender, in: 4, limit: 1 << 20).0 == .ignored)  // a second answer
        #expect(batch.file(Self.reply(0), in: 0, limit: 1 << 20) == .ignored)
        #expect(batch.file(Self.reply(0), in: 6, limit: 1 << 20) == .ignored)  // no such slot
        #expect(outcomes == [.filed, .filed, .filed, .filed, .filed])
        #expect(batch.missing == 1)
        let (outcome, added) = batch.file(Self.answer(3), requestID: 103, sender: Self.sender, in: 3, limit: 1 << 20)
        #expect(outcome == .complete && added == Self.reply(3).count)
        let replies = (0..<6).map(Self.reply)
        #expect(batch.bytes == replies.reduce(0) { $0 + $1.count })
        #expect(batch.encoded(sender: "worker:w1") == WireFormat.encodeBatchReply(requestID: 9, sender: "worker:w1", replies: replies))
    }

    @Test func anAnswerPastTheLimitIsNotFiled() {
        let limit = (0..<3).reduce(5) { $0 + Self.reply($1).count }  // three answers and 5 bytes
        var batch = PendingBatch(peer: [1], requestID: 1, received: .now, count: 5)
        for slot in 0..<3 { #expect(batch.file(Self.reply(slot), in: slot, limit: limit) == .filed) }
        let before = batch.bytes
        // Encoded in place only with room for the largest answer; else the exact check says.
        #expect(batch.file(Self.answer(3), requestID: 103, sender: Self.sender, in: 3, limit: limit).0 == .overflow)
        #expect(batch.file(Self.reply(3), in: 3, limit: limit) == .overflow)
        #expect(batch.bytes == before && batch.missing == 2)
        #expect(batch.file(Self.reply(3), in: 3, limit: .max) == .filed)  // the refusal in its place goes in whatever its size
        // An unanswered slot is an empty reply in the frame.
        let replies = (0..<4).map(Self.reply) + [[]]
        #expect(batch.encoded(sender: "w") == WireFormat.encodeBatchReply(requestID: 1, sender: "w", replies: replies))
    }

    /// `Batch.early_reply`: the reply goes with what is answered and a placeholder naming each
    /// other request; each later answer is counted once, and the last one completes the batch.
    @Test func anEarlyReplyHoldsTheAnswersSoFarAndPlaceholdersForTheRest() throws {
        let ids: [UInt64] = [100, 101, 102, 103, 0]  // a request id of 0 is a request id too
        var batch = PendingBatch(peer: [7], requestID: 5, received: .now, count: 5, earlyReply: ids)
        #expect(batch.repliesEarly)
        #expect(batch.file(Self.reply(0), in: 0, limit: 1 << 20) == .filed)
        #expect(batch.file(Self.answer(2), requestID: 102, sender: Self.sender, in: 2, limit: 1 << 20).0 == .filed)
        let frame = batch.takeEarlyReply(sender: "worker:w1")
        #expect(!batch.repliesEarly && batch.repliedEarly, "once")
        #expect(batch.bytes == 5 * 16, "the answers went with it; what is kept of each request counts")
        let reply = try WireFormat.decode(frame)
        #expect(reply.requestID == 5)
        #expect(reply.batchReply.replies.map(\.requestID) == ids)
        #expect(reply.batchReply.replies.map { $0.body == nil } == [false, true, false, true, true])
        #expect(reply.batchReply.replies[2].reply.version == Self.answer(2).version)
        #expect(reply.batchReply.replies.allSatisfy { $0.protocolVersion == WireFormat.protocolVersion && $0.sender == "worker:w1" })
        // The fast reader gives the two answers and leaves the placeholders out.
        #expect(WireFormat.decodeReplies(frame)?.map(\.requestID) == [100, 102])

        #expect(batch.answeredLate(0) == .ignored, "answered in the early reply")
        #expect(batch.answeredLate(9) == .ignored, "no such slot")
        #expect(batch.answeredLate(3) == .filed)
        #expect(batch.answeredLate(3) == .ignored, "a second answer")
        #expect(batch.answeredLate(1) == .filed)
        #expect(batch.missing == 1)
        #expect(batch.answeredLate(4) == .complete)
    }

    @Test func aBatchWithoutTheFlagTakesNoLateAnswers() {
        var batch = PendingBatch(peer: [7], requestID: 5, received: .now, count: 2)
        #expect(!batch.repliesEarly)
        #expect(batch.answeredLate(0) == .ignored)
        #expect(batch.missing == 2)
    }
}
