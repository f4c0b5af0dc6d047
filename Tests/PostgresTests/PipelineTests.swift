import Testing
import TestSupport
@testable import Postgres

@Suite struct PipelineTests {
    @Test func pipelinedStatementsAllRunInOrder() throws {
        let db = try TestDatabase.connect()
        try db.execute(script: "CREATE TEMP TABLE counters (id int8 PRIMARY KEY, n int8 NOT NULL)")
        let statements = (Int64(1)...1000).map {
            PipelinedStatement("INSERT INTO counters VALUES ($1, $2)", [.int64($0), .int64($0 * 2)])
        } + [PipelinedStatement("SELECT sum(n) FROM counters")]
        let results = try db.pipeline(statements)
        #expect(results.count == 1001)
        #expect(results[0].affectedRows == 1)
        #expect(try results[1000].int64(0, 0) == 1_001_000)
        #expect(try db.query("SELECT 1").int64(0, 0) == 1)  // back out of pipeline mode
    }

    @Test func aFailingStatementIsReportedAndTheConnectionRecovers() throws {
        let db = try TestDatabase.connect()
        try db.execute(script: "CREATE TEMP TABLE uniq (id int8 PRIMARY KEY)")
        let error = try #require(throws: PQError.self) {
            try db.pipeline([
                PipelinedStatement("INSERT INTO uniq VALUES (1)"),
                PipelinedStatement("INSERT INTO uniq VALUES (1)"),
                PipelinedStatement("INSERT INTO uniq VALUES (2)"),
            ])
        }
        #expect(error.sqlState == "23505")
        #expect(try db.query("SELECT 1").int64(0, 0) == 1)
    }
}
