import Testing
import TestSupport
@testable import Postgres

@Suite struct CopyTests {
    @Test func copyInStoresEveryRowWithEscapes() throws {
        let db = try TestDatabase.connect()
        try db.execute(script: "CREATE TEMP TABLE staging (id int8, body text)")
        let awkward = "tab\there\nnewline \\ backslash \r cr, ünïcode"
        var rows: [[String?]] = (1...5000).map { [String($0), "row \($0)"] }
        rows.append(["0", awkward])
        rows.append(["-1", nil])
        let copied = try db.copyIn("COPY staging (id, body) FROM STDIN", rows: rows)
        #expect(copied == 5002)
        #expect(try db.query("SELECT count(*) FROM staging").int64(0, 0) == 5002)
        #expect(try db.query("SELECT body FROM staging WHERE id = 0").string(0, 0) == awkward)
        #expect(try db.query("SELECT body IS NULL FROM staging WHERE id = -1").bool(0, 0))
    }

    @Test func aRejectedRowFailsTheWholeCopyWithItsSQLState() throws {
        let db = try TestDatabase.connect()
        try db.execute(script: "CREATE TEMP TABLE staging (id int8 PRIMARY KEY)")
        let error = try #require(throws: PQError.self) {
            try db.copyIn("COPY staging (id) FROM STDIN", rows: [["1"], ["2"], ["1"]])
        }
        #expect(error.code == .copyFailed)
        #expect(error.sqlState == "23505")
        #expect(try db.query("SELECT count(*) FROM staging").int64(0, 0) == 0)
        #expect(try db.query("SELECT 1").int64(0, 0) == 1)  // still usable
    }

    @Test func copyIntoAMissingTableNamesTheProblem() throws {
        let db = try TestDatabase.connect()
        let error = try #require(throws: PQError.self) {
            try db.copyIn("COPY no_such_table (id) FROM STDIN", rows: [["1"]])
        }
        #expect(error.sqlState == "42P01")
    }
}
