import Testing
import Wire
@testable import Cluster

/// A batch's answers in one buffer: in any order, each slot once, never past the limit.
@Suite struct PendingBatchTests {
    static func answer(_ slot: Int) -> ChangeAnswer { ChangeAnswer(version: UInt64(slot) &* 0x9E37_79B9, durable: slot % 2 == 0) }
    static func reply(_ slot: Int) -> [UInt8] { WireFormat.encodeReply(requestID: UInt64(slot) + 100, sender: "worker:w1", answer(slot)) }

    @Test func answersInAnyOrderMakeTheBatchReplyInTheBatchsOrder() {
        var batch = PendingBatch(peer: [1, 2, 3, 4, 5], requestID: 9, received: .now, count: 6)
        var outcomes: [PendingBatch.Filing] = []
        for slot in [4, 0, 5, 2] {
            outcomes.append(batch.file(Self.answer(slot), requestID: UInt64(slot) + 100, sender: "worker:w1", in: slot, limit: 1 << 20).0)
        }
        outcomes.append(batch.file(Self.reply(1), in: 1, limit: 1 << 20))  // an answer given some other way (a redirect, a stored reply)
        #expect(batch.file(Self.answer(4), requestID: 104, sender: "worker:w1", in: 4, limit: 1 << 20).0 == .ignored)  // a second answer
        #expect(batch.file(Self.reply(0), in: 0, limit: 1 << 20) == .ignored)
        #expect(batch.file(Self.reply(0), in: 6, limit: 1 << 20) == .ignored)  // no such slot
        #expect(outcomes == [.filed, .filed, .filed, .filed, .filed])
        #expect(batch.missing == 1)
        let (outcome, added) = batch.file(Self.answer(3), requestID: 103, sender: "worker:w1", in: 3, limit: 1 << 20)
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
        #expect(batch.file(Self.answer(3), requestID: 103, sender: "worker:w1", in: 3, limit: limit).0 == .overflow)
        #expect(batch.file(Self.reply(3), in: 3, limit: limit) == .overflow)
        #expect(batch.bytes == before && batch.missing == 2)
        #expect(batch.file(Self.reply(3), in: 3, limit: .max) == .filed)  // the refusal in its place goes in whatever its size
        // An unanswered slot is an empty reply in the frame.
        let replies = (0..<4).map(Self.reply) + [[]]
        #expect(batch.encoded(sender: "w") == WireFormat.encodeBatchReply(requestID: 1, sender: "w", replies: replies))
    }
}
