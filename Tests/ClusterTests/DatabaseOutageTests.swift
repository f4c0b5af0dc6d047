import Foundation
import Testing
import ProcessKit
import TestSupport
@testable import Client
@testable import Postgres
@testable import Wire
@testable import WorldCore
@testable import ZeroMQ

@Suite struct DatabaseOutageTests {
    @Test func aWorkerKeepsServingWhileItsDatabaseIsStoppedAndCatchesUpAfter() throws {
        let pg = try PrivatePostgres()
        defer { pg.destroy() }
        let worker = try WorkerProcess(database: "cellcluster", settings: [
            "checkpoint.interval_ms=200", "checkpoint.retry_initial_ms=50", "checkpoint.retry_max_ms=400",
            "checkpoint.max_loss_window_ms=600000",  // this test is about serving from memory meanwhile
        ], environment: pg.environment)
        defer { worker.process.killHard() }
        let client = try CellClient(context: try Context(), endpoint: worker.endpoint)
        try client.spawn(WorkerProcessTests.player(1, x: 2000, y: 2000))
        for id in UInt64(2)...51 { try client.spawn(WorkerProcessTests.npc(id, x: 1950 + Double(id), y: 2000)) }

        func count(_ sql: String) throws -> Int64 {
            var p = try TestDatabase.parameters()
            p.host = "127.0.0.1"
            p.port = pg.port
            p.password = pg.password
            p.user = "cellcluster"
            p.database = "cellcluster"
            return try Connection(p).query(sql).int64(0, 0)
        }
        let saved = try eventually { try count("SELECT count(*) FROM entity_states") == 51 }
        #expect(saved)

        // The database goes away. The game goes on: every move is answered from memory.
        try pg.stop()
        for id in UInt64(2)...51 {
            let reply = try client.move(EntityID(id), to: Position(x: 1950 + Double(id), y: 2030))
            #expect(reply.code == .ok)
        }
        #expect(try client.entity(EntityID(30)).position.y == 2030)
        Thread.sleep(forTimeInterval: 0.5)  // a few failed checkpoints
        #expect(worker.process.isRunning)
        #expect(worker.process.stderr.contains("[CHECKPOINT] failed"))

        // It comes back on the same port: the retries write the latest state.
        try pg.start()
        let caughtUp = try eventually(timeout: .seconds(20)) {
            (try? count("SELECT count(*) FROM entity_states WHERE (position->>'y')::float8 = 2030")) == 50
        }
        #expect(caughtUp, "\(worker.process.stderr.suffix(2000))")
        worker.process.signal(SIGTERM)
        #expect(worker.process.waitForExit() == 0)
    }

    @Test func pastItsLossWindowAWorkerRefusesChangesServesReadsAndOpensAgainOnceSaved() throws {
        let pg = try PrivatePostgres()
        defer { pg.destroy() }
        let worker = try WorkerProcess(database: "cellcluster", settings: [
            "checkpoint.interval_ms=200", "checkpoint.retry_initial_ms=50", "checkpoint.retry_max_ms=400",
            "checkpoint.max_loss_window_ms=1000",
        ], environment: pg.environment)
        defer { worker.process.killHard() }
        let client = try CellClient(context: try Context(), endpoint: worker.endpoint)
        try client.spawn(WorkerProcessTests.player(1, x: 2000, y: 2000))
        #expect(try client.move(EntityID(1), to: Position(x: 2010, y: 2000)).code == .ok)

        // The database goes away: changes are answered from memory until the oldest unsaved one
        // is a second old, then refused (retryable, nothing applied) while reads go on.
        try pg.stop()
        var x = 2010.0, accepted = 0
        var refused: Cellcluster_V1_Reply?
        let deadline = ContinuousClock.now + .seconds(10)
        while refused == nil, ContinuousClock.now < deadline {
            x += 1
            let reply = try client.call(.moveEntity(.with { $0.entityID = 1; $0.to = .with { $0.x = x; $0.y = 2000 } }))
            if reply.code == .ok { accepted += 1 } else { refused = reply }
            Thread.sleep(forTimeInterval: 0.02)
        }
        let refusal = try #require(refused)
        #expect(refusal.code == .overloaded, "\(refusal.code): \(refusal.message)")
        #expect(refusal.message.contains("checkpoint.max_loss_window_ms = 1000"))
        #expect(accepted > 10)
        let read = try client.entity(EntityID(1))
        #expect(read.position.x == x - 1)  // the refused move was not applied
        #expect(try eventually(timeout: .seconds(5)) { worker.process.stderr.contains("intake paused") })

        // It comes back: the checkpoint saves what waited, and changes are taken again.
        try pg.start()
        let open = try eventually(timeout: .seconds(20)) {
            try client.call(.moveEntity(.with { $0.entityID = 1; $0.to = .with { $0.x = 2100; $0.y = 2000 } })).code == .ok
        }
        #expect(open, "\(worker.process.stderr.suffix(2000))")
        // Logged before the move was taken, but read from the worker's pipe by another thread.
        #expect(try eventually(timeout: .seconds(5)) { worker.process.stderr.contains("intake open again") },
                "\(worker.process.stderr.suffix(2000))")
    }

    func eventually(timeout: Duration = .seconds(10), _ condition: () throws -> Bool) throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? condition()) == true { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return try condition()
    }
}
