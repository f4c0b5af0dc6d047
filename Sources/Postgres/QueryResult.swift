import CLibPQ

/// Owns one `PGresult`: the rows a statement returned, read as text.
public final class QueryResult {
    private let handle: OpaquePointer

    init(_ handle: OpaquePointer) { self.handle = handle }
    deinit { PQclear(handle) }

    public var rowCount: Int { Int(PQntuples(handle)) }
    public var columnCount: Int { Int(PQnfields(handle)) }

    /// Rows the statement inserted, updated, deleted or copied (0 when it reports none).
    public var affectedRows: Int {
        Int(String(cString: PQcmdTuples(handle))) ?? 0
    }

    /// The command tag, e.g. "INSERT 0 3" or "COMMIT".
    public var commandTag: String { String(cString: PQcmdStatus(handle)) }

    public func columnName(_ column: Int) -> String {
        String(cString: PQfname(handle, Int32(column)))
    }

    /// The column's index, or nil when the result has no such column.
    public func column(named name: String) -> Int? {
        let index = PQfnumber(handle, name)
        return index < 0 ? nil : Int(index)
    }

    /// The value as text, or nil for SQL NULL. Row and column must be in range.
    public func string(_ row: Int, _ column: Int) -> String? {
        precondition(row < rowCount && column < columnCount, "cell (\(row), \(column)) out of range")
        if PQgetisnull(handle, Int32(row), Int32(column)) != 0 { return nil }
        return String(cString: PQgetvalue(handle, Int32(row), Int32(column)))
    }

    /// The value as an integer.
    /// - Throws: `PQError(.decodingFailed)` when it is NULL or not an integer.
    public func int64(_ row: Int, _ column: Int) throws(PQError) -> Int64 {
        guard let text = string(row, column), let value = Int64(text) else {
            throw decoding(row, column, "an integer")
        }
        return value
    }

    /// The value as a floating-point number.
    public func double(_ row: Int, _ column: Int) throws(PQError) -> Double {
        guard let text = string(row, column), let value = Double(text) else {
            throw decoding(row, column, "a number")
        }
        return value
    }

    /// The value as a boolean (PostgreSQL's text form is "t" or "f").
    public func bool(_ row: Int, _ column: Int) throws(PQError) -> Bool {
        switch string(row, column) {
        case "t": return true
        case "f": return false
        default: throw decoding(row, column, "a boolean")
        }
    }

    /// Every row as text, for small results and tests.
    public var rows: [[String?]] {
        (0..<rowCount).map { r in (0..<columnCount).map { c in string(r, c) } }
    }

    private func decoding(_ row: Int, _ column: Int, _ what: String) -> PQError {
        PQError(
            code: .decodingFailed, message: "value \(string(row, column) ?? "NULL") is not \(what)",
            context: "row \(row), column \(columnName(column))")
    }
}
