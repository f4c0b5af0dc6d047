import Foundation
import Testing
import TestSupport
@testable import Client
@testable import Postgres
@testable import Wire
@testable import WorldCore
@testable import ZeroMQ

@Suite struct WorkerProcessTests {
    static let grid = try! Grid(width: 4096, height: 4096, cellSize: 64)

    static func npc(_ id: UInt64, x: Double, y: Double, hp: Double = 100) -> Entity {
        Entity(id: EntityID(id), kind: .npc, position: Position(x: x, y: y), cell: try! grid.cell(at: Position(x: x, y: y)), stats: ["hp": hp])
    }

    static func player(_ id: UInt64, x: Double, y: Double) -> Entity {
        Entity(id: EntityID(id), kind: .player, position: Position(x: x, y: y), cell: try! grid.cell(at: Position(x: x, y: y)), stats: ["hp": 100])
    }

    @Test func aClientTalksToARealWorkerAndBadFramesGetNamedErrors() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let worker = try WorkerProcess(database: parameters.database!)
            defer { worker.process.killHard() }
            let client = try CellClient(context: try Context(), endpoint: worker.endpoint)
            try client.spawn(Self.player(1, x: 100, y: 100))
            let moved = try client.move(EntityID(1), to: Position(x: 140, y: 100))
            #expect(moved.version == 2)
            #expect(try client.entity(EntityID(1)).position.x == 140)

            // Garbage: answered with MALFORMED_FRAME, and the worker keeps serving.
            try client.sendRaw([0xFF, 0x00, 0x13])
            let garbage = try #require(try client.receive(until: .now + .seconds(5)))
            #expect(garbage.reply.code == .malformedFrame)
            #expect(!garbage.reply.message.isEmpty)
            let nan = try client.call(.moveEntity(.with { $0.entityID = 1; $0.to = .with { $0.x = .nan } }))
            #expect(nan.code == .invalidArgument)
            #expect(nan.message.contains("position.x"))
            let unknown = try client.call(.getCell(.with { $0.cellID = 1_000_000 }))
            #expect(unknown.code == .unknownCell)
            #expect(try client.entity(EntityID(1)).version == 2)
        }
    }

    @Test func aRetriedRequestIsAppliedOnce() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let worker = try WorkerProcess(database: parameters.database!)
            defer { worker.process.killHard() }
            let context = try Context()
            let client = try CellClient(context: context, endpoint: worker.endpoint, name: "client:retry-test")
            try client.spawn(Self.player(1, x: 100, y: 100))
            // The same request id three times, as a client retrying after lost replies would.
            let socket = try Socket(context, .dealer)
            try socket.connect(worker.endpoint)
            var envelope = Envelope()
            envelope.requestID = 777
            envelope.sender = "client:retry-test"
            envelope.entityAction = .with { $0.entityID = 1; $0.action = "loot"; $0.statDeltas = ["gold": 10] }
            for _ in 0..<3 { try socket.send([WireFormat.encode(envelope)]) }
            var replies: [Envelope] = []
            try socket.setReceiveTimeout(milliseconds: 5000)
            for _ in 0..<3 { if let frames = try socket.receive() { replies.append(try WireFormat.decode(frames.last!)) } }
            #expect(replies.count == 3)
            #expect(Set(replies.map(\.reply.version)).count == 1)
            let e = try client.entity(EntityID(1))
            #expect(e.stats["gold"] == 10.0)
            #expect(e.actions == 1)
        }
    }

    @Test func aDurableActionAcknowledgedBeforeKill9IsInTheDatabase() throws {
        try TestDatabase.withFreshDatabase { parameters in
            // Periodic checkpoints an hour apart: only the durable path can have written it.
            let worker = try WorkerProcess(database: parameters.database!, settings: [
                "events.durability.entity_action=durable", "checkpoint.interval_ms=3600000",
            ])
            defer { worker.process.killHard() }
            let client = try CellClient(context: try Context(), endpoint: worker.endpoint)
            try client.spawn(Self.player(1, x: 100, y: 100))
            let trade = try client.act(EntityID(1), action: "purchase", deltas: ["gold": -30, "swords": 1])
            #expect(trade.durable)
            worker.process.signal(SIGKILL)
            #expect(worker.process.waitForExit() != nil)

            let db = try Connection(parameters)
            let row = try db.query("SELECT stats->>'gold', stats->>'swords', actions FROM entity_states WHERE entity_id = 1")
            #expect(row.rowCount == 1)
            #expect(row.string(0, 0) == "-30")
            #expect(row.string(0, 1) == "1")
            #expect(try row.int64(0, 2) == 1)
        }
    }

    @Test func sigtermWithDirtyStateLeavesAllOfItInTheDatabase() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let worker = try WorkerProcess(database: parameters.database!, settings: ["checkpoint.interval_ms=3600000"])
            defer { worker.process.killHard() }
            let client = try CellClient(context: try Context(), endpoint: worker.endpoint)
            try client.spawn(Self.player(1, x: 2000, y: 2000))
            for id in UInt64(2)...301 {
                try client.spawn(Self.npc(id, x: 1900 + Double(id % 200), y: 1950))
            }
            for id in UInt64(2)...301 {
                try client.move(EntityID(id), to: Position(x: 1900 + Double(id % 200), y: 2050))
            }
            worker.process.signal(SIGTERM)
            let status = worker.process.waitForExit()
            #expect(status == 0, "\(worker.process.stderr)")
            #expect(worker.process.stderr.contains("final checkpoint"))

            let db = try Connection(parameters)
            #expect(try db.query("SELECT count(*) FROM entity_states").int64(0, 0) == 301)
            #expect(try db.query("SELECT count(*) FROM entity_states WHERE (position->>'y')::float8 = 2050").int64(0, 0) == 300)
        }
    }

    @Test func aWorkerWithoutADatabaseSaysWhichServer() throws {
        let port = TestDatabase.unusedPort()
        let outcome = try CommandRunner.run(["worker", "--bind", "tcp://127.0.0.1:0"], environment: ["PGHOST": "127.0.0.1", "PGPORT": "\(port)"], timeout: 30)
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains("127.0.0.1:\(port)"))
    }
}
