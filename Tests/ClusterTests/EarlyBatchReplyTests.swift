import Foundation
import Testing
import ProcessKit
import TestSupport
@testable import Client
@testable import Wire
@testable import WorldCore
@testable import ZeroMQ

/// `Batch.early_reply` against real processes: a move handed off to a worker that has stopped
/// answering (SIGSTOP) holds back its batch's whole reply without the flag, and only its own
/// answer with it.
@Suite struct EarlyBatchReplyTests {
    static let grid = HandoffTests.grid

    @Test func aHandoffToAPausedWorkerHoldsBackOnlyItsOwnAnswer() throws {
        try TestDatabase.withFreshDatabase { parameters in
            // A long lease: the paused worker keeps its cells, and the handoff waits for it.
            let cluster = try ProcessCluster(database: parameters.database!, workers: 2, settings: ["leases.lease_ms=10000"])
            defer { cluster.killAll() }
            let client = try ClusterClient(context: try Context(), coordinator: cluster.coordinatorEndpoint, grid: Self.grid)
            try client.refreshMap()
            let (a, b) = try HandoffTests.border(client.map!)
            let home = HandoffTests.center(a)
            for id in 1...4 {
                let player = Entity(id: EntityID(UInt64(id)), kind: .player, position: Position(x: home.x + Double(id), y: home.y), cell: a,
                                    stats: ["hp": 100])
                #expect(try client.spawn(player).code == .ok)
            }
            let w1 = try CellClient(context: try Context(), endpoint: try #require(cluster.endpoint(of: "w1")))
            let w2 = try #require(cluster.worker("w2"))
            defer { w2.signal(SIGCONT) }

            /// Entity `leaving` moves into w2's cell b; the others from it on stay in a, a step on
            /// (those before it went to w2 in earlier batches).
            func batch(leaving: UInt64, step: Double) -> [Envelope.OneOf_Body] {
                (leaving...4).map { id in
                    let to = id == leaving ? HandoffTests.center(b) : Position(x: home.x + Double(id), y: home.y + step)
                    return .moveEntity(.with { $0.entityID = id; $0.to = .init(to) })
                }
            }

            // Without the flag: nothing comes back while the handoff waits for w2.
            w2.signal(SIGSTOP)
            var ids = (1...4).map { _ in w1.takeRequestID() }
            var batchID = w1.takeRequestID()
            try w1.resendBatch(batch(leaving: 1, step: 1), ids: ids, id: batchID)
            #expect(try w1.receive(until: .now + .milliseconds(800)) == nil, "a batch reply came while its handoff waited")
            w2.signal(SIGCONT)
            let whole = try #require(try w1.receive(until: .now + .seconds(10)), "no reply once w2 went on")
            #expect(whole.requestID == batchID)
            #expect(whole.batchReply.replies.map(\.requestID) == ids)
            #expect(whole.batchReply.replies.allSatisfy { $0.reply.code == .ok }, "\(whole.batchReply.replies.map(\.reply.message))")

            // With it: the three moves that stay are answered at once; the one handed off later, alone.
            w2.signal(SIGSTOP)
            ids = (2...4).map { _ in w1.takeRequestID() }
            batchID = w1.takeRequestID()
            let sent = ContinuousClock.now
            try w1.resendBatch(batch(leaving: 2, step: 2), ids: ids, id: batchID, earlyReply: true)
            let early = try #require(try w1.receive(until: .now + .seconds(2)), "no early reply while w2 is paused")
            let took = ContinuousClock.now - sent
            #expect(took < .milliseconds(800), "the early reply took \(took)")
            #expect(early.requestID == batchID)
            #expect(early.batchReply.replies.map(\.requestID) == ids)
            #expect(early.batchReply.replies.map { $0.body == nil } == [true, false, false], "a placeholder for the move handed off")
            #expect(early.batchReply.replies[1...].allSatisfy { $0.reply.code == .ok })
            #expect(try w1.receive(until: .now + .milliseconds(300)) == nil, "its answer came while w2 is paused")
            w2.signal(SIGCONT)
            let late = try #require(try w1.receive(until: .now + .seconds(10)), "no late answer once w2 went on")
            #expect(late.requestID == ids[0], "the late answer is the move's own reply")
            #expect(late.reply.code == .ok, "\(late.reply.message)")
            #expect(try client.entity(EntityID(2), near: b).entity.cellID == b.raw, "entity 2 lives in w2's cell now")

            // The library gathers an early reply and its late answers into one result.
            let gathered = try w1.callBatch(batch(leaving: 3, step: 3), earlyReply: true)
            #expect(gathered.map(\.code) == [.ok, .ok], "\(gathered.map(\.message))")
            #expect(try client.entity(EntityID(3), near: b).entity.cellID == b.raw)
        }
    }
}
