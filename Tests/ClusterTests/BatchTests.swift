import Foundation
import Testing
import TestSupport
@testable import Client
@testable import Wire
@testable import WorldCore
@testable import ZeroMQ

/// Batches against a real worker: each request answered on its own, in one frame; retries
/// applied once; what may not be batched refused in its slot; the limit named.
@Suite struct BatchTests {
    static let grid = WorkerProcessTests.grid

    static func spawn(_ id: UInt64, x: Double, y: Double) -> Envelope.OneOf_Body {
        .spawnEntity(.with { $0.entity = .init(WorkerProcessTests.player(id, x: x, y: y)) })
    }

    static func move(_ id: UInt64, x: Double, y: Double) -> Envelope.OneOf_Body {
        .moveEntity(.with { $0.entityID = id; $0.to = .init(Position(x: x, y: y)) })
    }

    @Test func aBatchIsAnsweredRequestByRequestInOneFrameAndARetryAppliesNothingTwice() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let worker = try WorkerProcess(database: parameters.database!, settings: ["limits.max_batch_requests=64"])
            defer { worker.process.killHard() }
            let client = try CellClient(context: try Context(), endpoint: worker.endpoint)

            var bodies = (1...10).map { Self.spawn($0, x: 100 + Double($0), y: 100) }
            bodies += (1...10).map { Self.move($0, x: 200 + Double($0), y: 120) }
            bodies.append(.moveEntity(.with { $0.entityID = 3; $0.to = .with { $0.x = .nan; $0.y = 1 } }))  // its own error
            bodies.append(.getEntity(.with { $0.entityID = 4 }))
            bodies.append(.statusRequest(.init()))  // not a game request
            bodies.append(.batch(.with { $0.requests = [Envelope.with { $0.requestID = 9; $0.body = Self.move(1, x: 1, y: 1) }] }))
            let ids = bodies.map { _ in client.takeRequestID() }
            let replies = try client.callBatch(bodies, ids: ids)
            #expect(replies.count == bodies.count)
            #expect(replies[0..<10].allSatisfy { $0.code == .ok })
            #expect(replies[10..<20].allSatisfy { $0.code == .ok && $0.version == 2 })
            #expect(replies[20].code == .invalidArgument && replies[20].message.contains("position.x"), "\(replies[20].message)")
            #expect(replies[21].code == .ok && replies[21].entity.position.x == 204 && replies[21].entity.version == 2)
            #expect(replies[22].code == .invalidArgument && replies[22].message.contains("status_request"), "\(replies[22].message)")
            #expect(replies[23].code == .invalidArgument && replies[23].message.contains("batch"), "\(replies[23].message)")

            // The same batch again, the same ids: the same answers, nothing applied twice.
            let again = try client.callBatch(bodies, ids: ids)
            #expect(again.map(\.code) == replies.map(\.code))
            #expect(again[10..<20].allSatisfy { $0.version == 2 })
            #expect(try client.entity(EntityID(7)).version == 2)

            // Over the limit: refused as a whole, naming it; nothing of it applied.
            let tooMany = (1...65).map { Self.move(1, x: 300 + Double($0), y: 100) }
            let refusal = try #require(throws: ClientError.self) { try client.callBatch(tooMany) }
            guard case .rejected(let code, let message) = refusal else { Issue.record("not a refusal: \(refusal)"); return }
            #expect(code == .invalidArgument && message.contains("limits.max_batch_requests (64)"), "\(message)")
            #expect(try client.entity(EntityID(1)).version == 2)

            // Empty: an empty reply; and the worker keeps serving single requests.
            #expect(try client.callBatch([]).isEmpty)
            #expect(try client.move(EntityID(1), to: Position(x: 150, y: 150)).version == 3)
        }
    }

    @Test func aPeerThatNamesItselfLikeABatchSlotIsNotServedAndStealsNoAnswer() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let worker = try WorkerProcess(database: parameters.database!)
            defer { worker.process.killHard() }
            let context = try Context()
            let honest = try CellClient(context: context, endpoint: worker.endpoint)
            // A DEALER whose routing id is the stand-in of batch 1, slot 0.
            let thief = try Socket(context, .dealer)
            defer { thief.close() }
            try thief.setRoutingID([0] + [1, 0, 0, 0, 0, 0, 0, 0] + [0, 0, 0, 0])
            try thief.connect(worker.endpoint)
            var stolen = Envelope()
            stolen.requestID = 1
            stolen.sender = "thief"
            stolen.body = .getEntity(.with { $0.entityID = 1 })
            for _ in 0..<20 { _ = try thief.send([WireFormat.encode(stolen)], dontWait: true) }
            let replies = try honest.callBatch([Self.spawn(1, x: 100, y: 100), .getEntity(.with { $0.entityID = 1 })])
            #expect(replies.map(\.code) == [.ok, .ok])
            #expect(replies[1].entity.entityID == 1)
            var poller = Poller()
            poller.add(thief)
            #expect(try poller.poll(timeoutMilliseconds: 300).isEmpty, "the thief got an answer")
            #expect(worker.process.stderr.contains("shape of a batch slot"))
        }
    }

    @Test func aDurableChangeInABatchHoldsTheBatchUntilItCommits() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let worker = try WorkerProcess(database: parameters.database!, settings: ["events.durability.entity_action=durable"])
            defer { worker.process.killHard() }
            let client = try CellClient(context: try Context(), endpoint: worker.endpoint)
            try client.spawn(WorkerProcessTests.player(1, x: 100, y: 100))
            let action = Envelope.OneOf_Body.entityAction(.with { $0.entityID = 1; $0.action = "gather"; $0.statDeltas = ["gold": 1] })
            let replies = try client.callBatch([Self.move(1, x: 110, y: 100), action, action])
            #expect(replies.map(\.code) == [.ok, .ok, .ok])
            #expect(!replies[0].durable && replies[1].durable && replies[2].durable)
            // Stored with both actions: the reply came after the commit.
            let db = try TestDatabase.connect(database: parameters.database!)
            let stored = try db.query("SELECT actions FROM entity_states WHERE entity_id = 1")
            #expect(try stored.int64(0, 0) == 2)
        }
    }

    /// The durable changes of one frame go to the checkpoint writer together when the frame has
    /// been served: one commit for all of them, even with no window to gather them in.
    @Test func theDurableChangesOfABatchShareOneCommit() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let worker = try WorkerProcess(database: parameters.database!, settings: [
                "events.durability.entity_action=durable", "checkpoint.durable_window_ms=0", "checkpoint.interval_ms=60000"])
            defer { worker.process.killHard() }
            let client = try CellClient(context: try Context(), endpoint: worker.endpoint)
            let spawned = try client.callBatch((UInt64(1)...20).map { Self.spawn($0, x: 100 + Double($0), y: 100) })
            #expect(spawned.allSatisfy { $0.code == .ok })
            func monitor() throws -> Cellcluster_V1_MonitorSnapshot {
                let id = try client.send(.statusRequest(.init()))
                let deadline = ContinuousClock.now + .seconds(3)
                while let reply = try client.receive(until: deadline) {
                    if reply.requestID == id, case .statusReply(let s)? = reply.body, let status = s.workers.first { return status.monitor }
                }
                throw WorkerProcessError(message: "no status reply")
            }
            let before = try monitor()
            let actions = (UInt64(1)...20).map { id in
                Envelope.OneOf_Body.entityAction(.with { $0.entityID = id; $0.action = "gather"; $0.statDeltas = ["gold": 1] })
            }
            let replies = try client.callBatch(actions)
            #expect(replies.allSatisfy { $0.code == .ok && $0.durable }, "\(replies.map(\.message))")
            let after = try monitor()
            #expect(after.dbWrites - before.dbWrites == 1, "twenty durable changes of one frame, more than one commit")
            // The status reply counts them and times them (the soak's `durable commits` line).
            #expect(after.durableChanges - before.durableChanges == 20 && after.durableCommits - before.durableCommits == 1)
            #expect(after.durableCommitUs > before.durableCommitUs, "a commit that took no time")
            let db = try TestDatabase.connect(database: parameters.database!)
            #expect(try db.query("SELECT count(*) FROM entity_states WHERE actions = 1").int64(0, 0) == 20)
        }
    }
}
