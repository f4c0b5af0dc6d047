import Foundation
import Testing
import TestSupport
@testable import Checkpoint
@testable import Cluster
import Config
@testable import Postgres

/// The coordinator revokes a lease in the transaction of the map that fails the worker over,
/// waiting for the holder's write in flight. A holder paused inside that write must not stall
/// the coordinator: the wait is bounded, and the failover is tried again.
@Suite struct RevocationTests {
    @Test func aRevocationWaitsForAWriteInFlightOnlySoLong() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let coordinator = try Connection(parameters)
            _ = try Migrator().migrate(coordinator)
            let leases = LeaseTable(connection: coordinator)
            let generation = try leases.grant(worker: "w1", endpoint: "tcp://127.0.0.1:1", leaseMs: 1)
            Thread.sleep(forTimeInterval: 0.05)
            let lease = try #require(try leases.expired().first)
            #expect(lease.generation == generation)

            // The holder's write, paused inside its transaction: it holds the lease row as every
            // write of a worker does.
            let holder = try Connection(parameters)
            _ = try holder.query("BEGIN")
            _ = try holder.query("SELECT 1 FROM worker_leases WHERE worker_id = 'w1' FOR KEY SHARE")
            let start = ContinuousClock.now
            let error = try #require(throws: PQError.self) {
                try coordinator.transaction { conn in try CoordinatorNode.revoke(lease, vanishedAt: nil, in: conn) }
            }
            let waited = ContinuousClock.now - start
            #expect(error.isLockNotAvailable, "\(error)")
            #expect(waited < .seconds(2), "waited \(waited)")
            #expect(try leases.all().count == 1)  // nothing revoked

            // Once the write ends, the next attempt revokes it.
            _ = try holder.query("COMMIT")
            let outcome = try coordinator.transaction { conn in try CoordinatorNode.revoke(lease, vanishedAt: nil, in: conn) }
            #expect(outcome == .revoked)
            #expect(try leases.all().isEmpty)
        }
    }

    /// A worker killed in the middle of a statement: its session does not run the statement to
    /// its end (holding the lease row, and the failover's revocation with it). The worker's
    /// sessions ask the server to check every 100 ms that their client is still there.
    @Test func aSessionWhoseWorkerDiedMidStatementEnds() throws {
        let worker = WorkerNode.sessionParameters(ClusterSettings(), worker: "w9")
        #expect(worker.serverSettings["client_connection_check_interval"] == "100")
        var own = try TestDatabase.parameters()
        own.serverSettings = worker.serverSettings
        let options = try #require(own.keywords.first { $0.0 == "options" }?.1)
        let application = "dying-worker-\(UInt32.random(in: 0...UInt32.max))"
        // A real client process, killed as a worker would be, in a 30-second statement.
        let client = try Self.psql("SELECT pg_sleep(30)", ["PGOPTIONS": options, "PGAPPNAME": application])
        defer { if client.isRunning { kill(client.processIdentifier, SIGKILL) } }
        let admin = try TestDatabase.connect()
        defer { admin.close() }
        func sessions() throws -> Int64 {
            try admin.query("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", [.text(application)]).int64(0, 0)
        }
        _ = Self.waitUntil(.seconds(10)) { try sessions() > 0 }  // psql connecting
        #expect(try sessions() == 1)
        kill(client.processIdentifier, SIGKILL)
        client.waitUntilExit()
        let killed = ContinuousClock.now
        _ = Self.waitUntil(.seconds(20)) { try sessions() == 0 }
        let ended = ContinuousClock.now - killed
        #expect(try sessions() == 0)
        #expect(ended < .seconds(5), "the session ran on for \(ended) after its client died (its statement takes 30 s)")
    }

    /// A worker whose lease ran out while one of its writes, busy rather than idle (as one stuck
    /// sending an answer to its paused process is), holds the lease row: the revocation ends that
    /// session instead of waiting for the pause to end. A storage session's or the checkpoint
    /// writer's (each checkpoint holds the lease row).
    @Test(arguments: [LeaseTable.workerApplication("w1"), LeaseTable.checkpointApplication("w1")])
    func aRevocationEndsTheBusyTransactionOfAWorkerWhoseLeaseRanOut(application: String) throws {
        try TestDatabase.withFreshDatabase { parameters in
            let coordinator = try Connection(parameters)
            _ = try Migrator().migrate(coordinator)
            let leases = LeaseTable(connection: coordinator)
            _ = try leases.grant(worker: "w1", endpoint: "tcp://127.0.0.1:1", leaseMs: 1)
            Thread.sleep(forTimeInterval: 0.05)
            let lease = try #require(try leases.expired().first)
            let writer = try Self.psql("BEGIN; SELECT 1 FROM worker_leases WHERE worker_id = 'w1' FOR KEY SHARE; SELECT pg_sleep(30); COMMIT;",
                                       ["PGAPPNAME": application, "PGDATABASE": parameters.database!])
            defer { if writer.isRunning { kill(writer.processIdentifier, SIGKILL) } }
            // In pg_sleep, so past the lock: psql sends the four statements as one query string,
            // which pg_stat_activity shows from the first of them on (CI once revoked the lease
            // before the writer had locked its row).
            func sleeping() throws -> Bool {
                try coordinator.query("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event = 'PgSleep'",
                                      [.text(application)]).int64(0, 0) == 1
            }
            _ = Self.waitUntil(.seconds(10)) { try sleeping() }  // psql getting there
            #expect(try sleeping())
            let error = try #require(throws: PQError.self) {
                try coordinator.transaction { conn in try CoordinatorNode.revoke(lease, vanishedAt: nil, in: conn) }
            }
            #expect(error.isLockNotAvailable, "\(error)")
            #expect(try leases.endTransactions(of: "w1") == 1)
            writer.waitUntilExit()  // its session ended, psql exits
            // psql exits on the server's goodbye, which the ended backend sends before it leaves
            // pg_stat_activity: wait for it to leave, or it would be counted (and ended) again.
            func sessions() throws -> Int64 {
                try coordinator.query("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                                      [.text(application)]).int64(0, 0)
            }
            _ = Self.waitUntil(.seconds(10)) { try sessions() == 0 }
            #expect(try sessions() == 0)
            let outcome = try coordinator.transaction { conn in try CoordinatorNode.revoke(lease, vanishedAt: nil, in: conn) }
            #expect(outcome == .revoked)
            #expect(try leases.endTransactions(of: "w1") == 0)
        }
    }

    /// Starts psql running `sql` against the test server (with `environment` on top of this
    /// process's), its output discarded.
    static func psql(_ sql: String, _ environment: [String: String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", "-X", "-q", "-c", sql]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Polls `condition` every 50 ms until it holds or `timeout` passed; its last answer.
    static func waitUntil(_ timeout: Duration, _ condition: () throws -> Bool) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? condition()) == true { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return (try? condition()) == true
    }
}
