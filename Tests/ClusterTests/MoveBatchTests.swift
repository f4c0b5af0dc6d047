import Foundation
import Testing
import TestSupport
@testable import Client
@testable import Wire
@testable import WorldCore
@testable import ZeroMQ

/// Batches of moves only, and moves in frames of their own, which a worker applies from plain
/// values (`serveMoveBatch`, `serveMove`) rather than from an envelope per move: every answer is
/// the one the general path gives, and a retry applies nothing twice.
@Suite struct MoveBatchTests {
    /// Moves of entities `base + 1...5` (spawned), one never spawned, one invalid, one out of
    /// the grid, two of one entity, one to a far cell.
    ///
    /// The never-spawned entity names a cell no player comes near, so that it is queued there in
    /// both batches. Named near the players, its answer would hang on whether that cell's load
    /// (started by the spawns, not awaited by them) had finished: "unknown entity" in an active
    /// cell, queued in one still loading. A CI run saw the two batches straddle the load.
    static func moves(base: UInt64) -> [Envelope.OneOf_Body] {
        let quietCell = try! BatchTests.grid.cell(at: Position(x: 4000, y: 200))
        let neverSpawned = Envelope.OneOf_Body.moveEntity(.with {
            $0.entityID = base + 50
            $0.cellID = quietCell.raw
            $0.to = .init(Position(x: 120, y: 100))
        })
        return [BatchTests.move(base + 1, x: 110, y: 100), BatchTests.move(base + 2, x: .nan, y: 1), BatchTests.move(base + 3, x: 1e9, y: 100),
                BatchTests.move(base + 1, x: 111, y: 100), neverSpawned, BatchTests.move(base + 4, x: 3000, y: 3000),
                BatchTests.move(base + 5, x: -0.0, y: 64)]
    }

    /// The answers to `moves(base: 0)` (and whatever follows them) match the general path's
    /// answers to `moves(base: 100)` slot by slot, and are those the moves call for.
    static func expectGeneralAnswers(_ answers: [Cellcluster_V1_Reply], _ general: [Cellcluster_V1_Reply]) {
        for slot in answers.indices {
            let (d, g) = (answers[slot], general[slot])
            #expect(d.code == g.code && d.version == g.version && d.deferred == g.deferred && d.durable == g.durable
                    && d.message.isEmpty == g.message.isEmpty, "slot \(slot): \(d) against \(g)")
        }
        #expect(answers[0].code == .ok && answers[0].version == 2)
        #expect(answers[1].code == .invalidArgument && answers[1].message.contains("position.x"), "\(answers[1].message)")
        #expect(answers[2].code != .ok, "outside the grid: \(answers[2])")
        #expect(answers[3].code == .ok && answers[3].version == 3)
        #expect(answers[4].code == .ok && answers[4].deferred && general[4].deferred, "queued in the cell it names")
    }

    /// After `moves(base: 0)` was sent twice under the same ids: each move applied once, as the
    /// same moves of the other entities were.
    static func expectAppliedOnce(_ client: CellClient) throws {
        let one = try client.entity(EntityID(1))
        #expect(one.version == 3 && one.position.x == 111)
        let (four, hundredFour) = (try client.entity(EntityID(4)), try client.entity(EntityID(104)))
        #expect(four.version == hundredFour.version)
    }

    /// A worker on a fresh database, entities 1...5 and 101...105 spawned near (100, 100), and a client of it.
    static func withSpawnedWorker(_ body: (CellClient) throws -> Void) throws {
        try TestDatabase.withFreshDatabase { parameters in
            let worker = try WorkerProcess(database: parameters.database!)
            defer { worker.process.killHard() }
            let client = try CellClient(context: try Context(), endpoint: worker.endpoint)
            let spawns = [UInt64(0), 100].flatMap { base in (1...5).map { BatchTests.spawn(base + $0, x: 100 + Double($0), y: 100) } }
            #expect(try client.callBatch(spawns).allSatisfy { $0.code == .ok })
            try body(client)
        }
    }

    @Test func aBatchOfMovesIsAnsweredAsTheGeneralPathAnswersItAndARetryAppliesNothingTwice() throws {
        try Self.withSpawnedWorker { client in

            // The same moves of two alike sets of entities: one batch of moves and a read (read
            // into plain values), one with a read of a cell after them (read into envelopes,
            // served by `serve`).
            let directBodies = Self.moves(base: 0) + [.getEntity(.with { $0.entityID = 1 })]
            let directIDs = directBodies.map { _ in client.takeRequestID() }
            let frame = try #require(CellClient.encodeMoves(directBodies, ids: directIDs, id: 1, sender: client.name))
            #expect(WireFormat.decodeMoveBatch(frame) != nil, "the client's batch of moves and a read is read without envelopes")
            let direct = try client.callBatch(directBodies, ids: directIDs)
            let general = try client.callBatch(Self.moves(base: 100) + [.getEntity(.with { $0.entityID = 101 }), .getCell(.with { $0.cellID = 1 })])
            #expect(direct.count == 8 && general.count == 9)
            #expect(direct[7].entity.position.x == 111 && direct[7].entity.version == 3)
            Self.expectGeneralAnswers(direct, general)
            #expect(general[7].entity.position.x == 111 && general[7].entity.version == 3)

            // The same batch again, the same ids: the same answers, nothing applied twice.
            let again = try client.callBatch(directBodies, ids: directIDs)
            #expect(again.map(\.code) == direct.map(\.code))
            #expect(again.map(\.version) == direct.map(\.version))
            try Self.expectAppliedOnce(client)
            // And a new move after them is applied once more.
            #expect(try client.callBatch([BatchTests.move(1, x: 112, y: 100)]).first?.version == 4)
        }
    }

    @Test func aMoveAloneIsAnsweredAsTheGeneralPathAnswersItAndARetryAppliesNothingTwice() throws {
        try Self.withSpawnedWorker { client in

            // Each move in a frame of its own (read into plain values), against the same moves of
            // the other entities in a batch with a read of a cell (envelopes, served by `serve`).
            let bodies = Self.moves(base: 0)
            let ids = bodies.map { _ in client.takeRequestID() }
            var envelope = Envelope()
            envelope.requestID = ids[0]
            envelope.sender = client.name
            envelope.body = bodies[0]
            #expect(WireFormat.decodeMove(WireFormat.encode(envelope)) != nil, "the client's move is read without an envelope")
            let lone = try zip(bodies, ids).map { body, id in try client.call(body, id: id, timeout: .seconds(5)) }
            let general = try client.callBatch(Self.moves(base: 100) + [.getCell(.with { $0.cellID = 1 })])
            #expect(lone.count == 7 && general.count == 8)
            Self.expectGeneralAnswers(lone, general)

            // The same moves again under the same ids: the same answers, nothing applied twice.
            let again = try zip(bodies, ids).map { body, id in try client.call(body, id: id, timeout: .seconds(5)) }
            #expect(again.map(\.code) == lone.map(\.code))
            #expect(again.map(\.version) == lone.map(\.version))
            try Self.expectAppliedOnce(client)
            // And a new move after them is applied once more.
            #expect(try client.call(BatchTests.move(1, x: 112, y: 100)).version == 4)
        }
    }

    @Test func durableMovesInABatchOfMovesWaitForTheirCommit() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let worker = try WorkerProcess(database: parameters.database!, settings: ["events.durability.entity_move=durable"])
            defer { worker.process.killHard() }
            let client = try CellClient(context: try Context(), endpoint: worker.endpoint)
            try client.spawn(WorkerProcessTests.player(1, x: 100, y: 100))
            try client.spawn(WorkerProcessTests.player(2, x: 100, y: 100))
            let replies = try client.callBatch([BatchTests.move(1, x: 130, y: 100), BatchTests.move(2, x: 140, y: 100)])
            #expect(replies.map(\.code) == [.ok, .ok])
            #expect(replies.map(\.durable) == [true, true], "answered after the commit")
            let db = try TestDatabase.connect(database: parameters.database!)
            let stored = try db.query("SELECT (position->>'x')::float8 FROM entity_states WHERE entity_id IN (1, 2) ORDER BY entity_id")
            #expect(try stored.double(0, 0) == 130)
            #expect(try stored.double(1, 0) == 140)
        }
    }
}
