import Foundation
import Testing
import TestSupport
@testable import Postgres

@Suite struct ConnectionTests {
    @Test func anUnreachableServerGivesAClearError() throws {
        let port = TestDatabase.unusedPort()
        let parameters = ConnectionParameters(host: "127.0.0.1", port: port, user: "nobody", database: "nothing")
        let error = try #require(throws: PQError.self) { try Connection(parameters) }
        #expect(error.code == .connectionFailed)
        #expect(error.isConnectionProblem)
        #expect(error.description.contains("127.0.0.1:\(port)"))
        #expect(error.message.lowercased().contains("refused"))
    }

    @Test func aClosedConnectionRefusesWork() throws {
        let db = try TestDatabase.connect()
        #expect(db.isOpen)
        #expect(db.serverVersion >= 140000)
        db.close()
        db.close()
        let error = try #require(throws: PQError.self) { try db.query("SELECT 1") }
        #expect(error.code == .connectionClosed)
    }

    @Test func aKilledBackendIsAConnectionProblemAndResetRecovers() throws {
        let victim = try TestDatabase.connect()
        let pid = try victim.query("SELECT pg_backend_pid()").int64(0, 0)
        let killer = try TestDatabase.connect()
        #expect(try killer.query("SELECT pg_terminate_backend($1::int4)", [.int64(pid)]).bool(0, 0))
        let error = try #require(throws: PQError.self) { try victim.query("SELECT 1") }
        #expect(error.isConnectionProblem)
        try victim.reset()
        #expect(try victim.query("SELECT 1").int64(0, 0) == 1)
    }

    @Test func theServerWantsThePasswordAndSslmodeReachesLibpq() throws {
        var p = try TestDatabase.parameters()
        p.sslmode = "require"  // the private server speaks no TLS: libpq must refuse to go on
        let tls = #expect(throws: PQError.self) { try Connection(p) }
        #expect(tls?.description.contains("SSL") == true)
        p.sslmode = "disable"
        #expect(try Connection(p).query("SELECT 1").int64(0, 0) == 1)
        if ProcessInfo.processInfo.environment["PGPASSFILE"] != nil {  // scripts/pg's scram-sha-256 server
            p.password = "not-the-password"
            let refused = #expect(throws: PQError.self) { try Connection(p) }
            #expect(refused?.description.contains("password authentication failed") == true)
        }
    }

    /// A worker's sessions carry `idle_in_transaction_session_timeout`: paused inside a
    /// transaction, the server ends its session (and frees its row locks) instead of holding
    /// them until it resumes.
    @Test func serverSettingsReachTheSessionAndAnIdleTransactionIsEnded() throws {
        var p = try TestDatabase.parameters()
        p.serverSettings["idle_in_transaction_session_timeout"] = "200"
        p.serverSettings["not allowed"] = "x"  // a space would split libpq's options: left out
        #expect(p.keywords.first { $0.0 == "options" }?.1 == "-c idle_in_transaction_session_timeout=200")
        let db = try Connection(p)
        #expect(try db.query("SHOW idle_in_transaction_session_timeout").string(0, 0) == "200ms")
        _ = try db.query("BEGIN")
        _ = try db.query("SELECT 1")
        Thread.sleep(forTimeInterval: 0.7)
        let error = try #require(throws: PQError.self) { try db.query("SELECT 1") }
        #expect(error.isConnectionProblem, "\(error)")
        // Outside a transaction a session may idle as long as it likes.
        let idle = try Connection(p)
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try idle.query("SELECT 1").int64(0, 0) == 1)
    }

    @Test func parametersNeverContainAConcatenatedString() {
        let p = ConnectionParameters(host: "h", port: 1, user: "u", database: "d", password: "secret x'y")
        #expect(p.keywords.first { $0.0 == "password" }?.1 == "secret x'y")
        #expect(!p.redacted.contains("secret"))
    }
}
