import Testing
import TestSupport
@testable import Postgres

/// Statements with parameters are prepared once per session (Connection+Prepared).
@Suite struct PreparedStatementTests {
    private func preparedCount(_ db: Connection) throws -> Int64 {
        try db.query("SELECT count(*) FROM pg_prepared_statements").int64(0, 0)
    }

    @Test func aStatementIsPreparedOnceAndRunsManyTimes() throws {
        let db = try TestDatabase.connect()
        try db.execute(script: "CREATE TEMP TABLE kv (k int8 PRIMARY KEY, v text)")
        for k in Int64(1)...50 {
            try db.query("INSERT INTO kv VALUES ($1, $2)", [.int64(k), .text("v\(k)")])
        }
        let statements = (Int64(51)...100).map { PipelinedStatement("INSERT INTO kv VALUES ($1, $2)", [.int64($0), .text("v\($0)")]) }
        _ = try db.pipeline(statements)
        #expect(try db.query("SELECT count(*), sum(k) FROM kv WHERE v = 'v' || k::text").int64(0, 1) == 5050)
        // One statement: the INSERT (SELECTs without parameters are not prepared).
        #expect(try preparedCount(db) == 1)
        #expect(db.prepared.count == 1)
    }

    @Test func theSameTextWithOtherParameterTypesIsAnotherStatement() throws {
        let db = try TestDatabase.connect()
        // $1 typed by its first value: an int8 sent in binary, then NULL (type left to the server).
        #expect(try db.query("SELECT coalesce($1::int8, -1)", [.int64(7)]).int64(0, 0) == 7)
        #expect(try db.query("SELECT coalesce($1::int8, -1)", [.null]).int64(0, 0) == -1)
        #expect(try db.query("SELECT coalesce($1::int8, -1)", [.text("9")]).int64(0, 0) == 9)
        #expect(try preparedCount(db) == 2)  // int8, and unknown (NULL and text alike)
    }

    @Test func theCacheIsBoundedAndStatementsPastItStillRun() throws {
        let db = try TestDatabase.connect()
        let limit = Connection.maxPreparedStatements
        for i in 0..<(limit + 20) {
            #expect(try db.query("SELECT $1::int8 + \(i)", [.int64(1)]).int64(0, 0) == Int64(i + 1))
        }
        #expect(try preparedCount(db) == Int64(limit))
    }

    @Test func aResetSessionPreparesAgain() throws {
        let db = try TestDatabase.connect()
        #expect(try db.query("SELECT $1::int8 * 2", [.int64(21)]).int64(0, 0) == 42)
        try db.reset()
        #expect(db.prepared.isEmpty)
        #expect(try db.query("SELECT $1::int8 * 2", [.int64(4)]).int64(0, 0) == 8)
    }

    @Test func aDiscardedStatementIsPreparedAgainOnTheNextCall() throws {
        let db = try TestDatabase.connect()
        #expect(try db.query("SELECT $1::int8 + 1", [.int64(1)]).int64(0, 0) == 2)
        try db.execute(script: "DEALLOCATE ALL")  // as a pooler or DISCARD ALL would
        #expect(try db.query("SELECT $1::int8 + 1", [.int64(2)]).int64(0, 0) == 3)  // prepared again, run once
        // Inside a transaction the failure aborts it: the caller sees it, and the next call works.
        try db.query("BEGIN")
        try db.execute(script: "DEALLOCATE ALL")
        let error = try #require(throws: PQError.self) { try db.query("SELECT $1::int8 + 1", [.int64(1)]) }
        #expect(error.sqlState == "26000")
        try db.query("ROLLBACK")
        #expect(try db.query("SELECT $1::int8 + 1", [.int64(3)]).int64(0, 0) == 4)
        // A pipeline that meets a dropped statement fails; the next one prepares again.
        try db.execute(script: "DEALLOCATE ALL")
        #expect(throws: PQError.self) { try db.pipeline([PipelinedStatement("SELECT $1::int8 + 1", [.int64(1)])]) }
        #expect(try db.pipeline([PipelinedStatement("SELECT $1::int8 + 1", [.int64(5)])])[0].int64(0, 0) == 6)
    }

    @Test func aStatementTheServerKeptAfterTheCacheForgotItIsTakenAsItIs() throws {
        let db = try TestDatabase.connect()
        let a = "SELECT $1::int8 + 100", b = "SELECT $1::int8 + 200"
        #expect(try db.query(a, [.int64(1)]).int64(0, 0) == 101)
        #expect(try db.query(b, [.int64(1)]).int64(0, 0) == 201)
        // Only b is dropped: its next call forgets the whole cache, while the server keeps a.
        try db.execute(script: "DEALLOCATE \(Connection.statementName(.init(sql: b, types: [20])))")
        #expect(try db.query(b, [.int64(2)]).int64(0, 0) == 202)
        // a is prepared again under the same name (42P05 from the server): taken as it is.
        #expect(try db.query(a, [.int64(2)]).int64(0, 0) == 102)
        #expect(try preparedCount(db) == 2)
        // Names are the same in every session, and differ by text and by types.
        #expect(Connection.statementName(.init(sql: a, types: [20])) == Connection.statementName(.init(sql: a, types: [20])))
        #expect(Connection.statementName(.init(sql: a, types: [20])) != Connection.statementName(.init(sql: a, types: [0])))
        #expect(Connection.statementName(.init(sql: a, types: [20])) != Connection.statementName(.init(sql: b, types: [20])))
    }

    @Test func aStatementThatCannotBePreparedNamesItself() throws {
        let db = try TestDatabase.connect()
        let error = try #require(throws: PQError.self) { try db.query("SELECT * FROM no_such_table WHERE id = $1", [.int64(1)]) }
        #expect(error.sqlState == "42P01")
        #expect(error.context.contains("no_such_table"))
        #expect(db.prepared.isEmpty)
        #expect(try db.query("SELECT $1::int8", [.int64(5)]).int64(0, 0) == 5)
    }
}
