import CLibPQ

/// Statements with parameters are prepared once per session and then only executed: the server
/// parses and plans them once, not on every call (a checkpoint's unnest upserts and a load's
/// selects run thousands of times a minute on the same connection).
///
/// The cache belongs to the session: `reset()` and `close()` empty it. It holds at most
/// `maxPreparedStatements` texts; beyond that a statement runs unprepared, so SQL built at run
/// time cannot grow the server's memory. A statement is keyed by its text and its parameters'
/// types, because a prepared statement's types are fixed when it is prepared. Its name is a hash
/// of both, the same in every process: a name never stands for two statements, even after the
/// cache was emptied while the server kept its statements, or behind a pooler.
extension Connection {
    public static let maxPreparedStatements = 128

    struct PreparedKey: Hashable {
        let sql: String
        let types: [Oid]
    }

    /// The name of `sql` prepared for `parameters`' types, preparing it first (one round trip)
    /// when this session has not; nil when the cache is full (run it unprepared then).
    /// - Throws: the server's error when it cannot prepare the statement (syntax, unknown table…).
    func preparedName(_ sql: String, _ parameters: [PostgresValue], conn: OpaquePointer) throws(PQError) -> String? {
        let key = PreparedKey(sql: sql, types: parameters.map(\.oid))
        if let name = prepared[key] { return name }
        guard prepared.count < Self.maxPreparedStatements else { return nil }
        let name = Self.statementName(key)
        RoundTrips.record()
        let raw = key.types.withUnsafeBufferPointer { PQprepare(conn, name, sql, Int32(key.types.count), $0.baseAddress) }
        do {
            _ = try check(raw, context: "prepare \(PQError.describe(sql))")
        } catch {
            // 42P05: prepared in this session already (the cache was emptied, the server kept
            // it); the name is the hash of this very text and these types, so it is this one.
            guard error.sqlState == "42P05" else { throw error }
        }
        prepared[key] = name
        return name
    }

    /// "cc_" and a 64-bit FNV-1a hash of the text and the types, in hex.
    static func statementName(_ key: PreparedKey) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        for byte in key.sql.utf8 { mix(byte) }
        for type in key.types { withUnsafeBytes(of: type.littleEndian) { $0.forEach(mix) } }
        return "cc_" + String(hash, radix: 16)
    }

    /// Forgets the session's statements when the server no longer has one (SQLSTATE 26000: a
    /// pooler or a DISCARD dropped it) or refuses a stale plan (0A000: a table's columns
    /// changed under a cached plan), so the next call prepares them again.
    func forgetPrepared(after error: PQError) {
        if error.sqlState == "26000" || error.sqlState == "0A000" { prepared.removeAll() }
    }
}
