import Testing
import TestSupport
@testable import Postgres

@Suite struct QueryTests {
    @Test func parametersRoundTripInTextAndBinary() throws {
        let db = try TestDatabase.connect()
        let result = try db.query(
            "SELECT $1::text, $2::int8, $3::float8, $4::bool, $5::bytea, $6::text, $7::int4",
            [.text("héllo\tworld"), .int64(-9_000_000_000), .double(2.5), .bool(true), .bytes([0, 255, 7]), .null, .int32(42)])
        #expect(result.rowCount == 1)
        #expect(result.string(0, 0) == "héllo\tworld")
        #expect(try result.int64(0, 1) == -9_000_000_000)
        #expect(try result.double(0, 2) == 2.5)
        #expect(try result.bool(0, 3))
        #expect(result.string(0, 4) == "\\x00ff07")
        #expect(result.string(0, 5) == nil)
        #expect(try result.int64(0, 6) == 42)
    }

    @Test func preparedStatementRunsRepeatedly() throws {
        let db = try TestDatabase.connect()
        try db.execute(script: "CREATE TEMP TABLE squares (n int8 PRIMARY KEY, sq int8 NOT NULL)")
        try db.prepare("insert_square", "INSERT INTO squares VALUES ($1, $2)")
        for n in Int64(1)...50 { try db.execute(prepared: "insert_square", [.int64(n), .int64(n * n)]) }
        let sum = try db.query("SELECT sum(sq) FROM squares")
        #expect(try sum.int64(0, 0) == 42925)
    }

    @Test func transactionRollsBackWhenTheBodyThrows() throws {
        struct Boom: Error {}
        let db = try TestDatabase.connect()
        try db.execute(script: "CREATE TEMP TABLE ledger (id int PRIMARY KEY)")
        #expect(throws: Boom.self) {
            try db.transaction { conn in
                try conn.query("INSERT INTO ledger VALUES (1)")
                throw Boom()
            }
        }
        #expect(try db.query("SELECT count(*) FROM ledger").int64(0, 0) == 0)
        try db.transaction { conn in try conn.query("INSERT INTO ledger VALUES (2)") }
        #expect(try db.query("SELECT count(*) FROM ledger").int64(0, 0) == 1)
    }

    @Test func aFailedStatementInsideATransactionRollsItBack() throws {
        let db = try TestDatabase.connect()
        try db.execute(script: "CREATE TEMP TABLE ledger (id int PRIMARY KEY)")
        let error = try #require(throws: PQError.self) {
            try db.transaction { conn in
                try conn.query("INSERT INTO ledger VALUES (1)")
                _ = try? conn.query("INSERT INTO ledger VALUES (1)")  // swallowed: the transaction is aborted
            }
        }
        #expect(error.sqlState == "25P02")
        #expect(try db.query("SELECT count(*) FROM ledger").int64(0, 0) == 0)
    }

    @Test func uniqueViolationCarriesItsSQLState() throws {
        let db = try TestDatabase.connect()
        try db.execute(script: "CREATE TEMP TABLE players (id int PRIMARY KEY)")
        try db.query("INSERT INTO players VALUES ($1)", [.int32(7)])
        let error = try #require(throws: PQError.self) {
            try db.query("INSERT INTO players VALUES ($1)", [.int32(7)])
        }
        #expect(error.sqlState == "23505")
        #expect(error.isUniqueViolation)
        #expect(error.code == .statementFailed)
        #expect(error.description.contains("INSERT INTO players"))
        // The connection stays usable after a rejected statement.
        #expect(try db.query("SELECT 1").int64(0, 0) == 1)
    }

    @Test func decodingAWrongTypeIsATypedError() throws {
        let db = try TestDatabase.connect()
        let result = try db.query("SELECT 'x'::text AS name")
        let error = try #require(throws: PQError.self) { try result.int64(0, 0) }
        #expect(error.code == .decodingFailed)
        #expect(error.context.contains("name"))
    }
}
