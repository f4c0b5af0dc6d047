import CLibPQ

extension Connection {
    /// Runs one statement with parameters `$1, $2, …`.
    /// - Throws: `PQError` with the SQLSTATE when the server rejects it, `.connectionLost` when the
    ///   connection broke.
    @discardableResult
    public func query(_ sql: String, _ parameters: [PostgresValue] = []) throws(PQError) -> QueryResult {
        do {
            return try run(sql, parameters)
        } catch {
            // A statement the server dropped (SQLSTATE 26000) did not run: outside a transaction
            // it is prepared and run again once; inside one, the transaction is aborted anyway.
            guard error.sqlState == "26000", let conn = handle, PQtransactionStatus(conn) == PQTRANS_IDLE else { throw error }
            return try run(sql, parameters)
        }
    }

    private func run(_ sql: String, _ parameters: [PostgresValue]) throws(PQError) -> QueryResult {
        let conn = try open(PQError.describe(sql))
        let name = parameters.isEmpty ? nil : try preparedName(sql, parameters, conn: conn)
        let raw = withEncodedParameters(parameters) { count, types, values, lengths, formats in
            if let name { PQexecPrepared(conn, name, count, values, lengths, formats, 0) }
            else { PQexecParams(conn, sql, count, types, values, lengths, formats, 0) }
        }
        do {
            return try check(raw, context: PQError.describe(sql))
        } catch {
            forgetPrepared(after: error)
            throw error
        }
    }

    /// Runs one or more statements without parameters (e.g. a migration script).
    public func execute(script sql: String) throws(PQError) {
        let conn = try open("script")
        _ = try check(PQexec(conn, sql), context: "script \(PQError.describe(sql))")
    }

    /// Prepares a named statement on this connection for repeated `execute(prepared:)` calls.
    /// Binary parameters (integers, doubles, booleans, bytes) must match the type the server
    /// infers: cast them in the SQL (`$1::int8`) or name the types here.
    /// - Parameter types: the parameters' types by OID; leave empty to let the server infer them.
    public func prepare(_ name: String, _ sql: String, types: [UInt32] = []) throws(PQError) {
        let conn = try open("prepare \(name)")
        let raw = types.withUnsafeBufferPointer {
            PQprepare(conn, name, sql, Int32(types.count), types.isEmpty ? nil : $0.baseAddress)
        }
        _ = try check(raw, context: "prepare \(name)")
    }

    /// Runs a statement made with `prepare`.
    @discardableResult
    public func execute(prepared name: String, _ parameters: [PostgresValue] = []) throws(PQError) -> QueryResult {
        let conn = try open("execute \(name)")
        let raw = withEncodedParameters(parameters) { count, _, values, lengths, formats in
            PQexecPrepared(conn, name, count, values, lengths, formats, 0)
        }
        return try check(raw, context: "execute \(name)")
    }

    /// Takes ownership of a result and throws if it reports a failure.
    /// The context is worked out only for a failure: describing a statement scans its text.
    func check(_ raw: OpaquePointer?, context: @autoclosure () -> String) throws(PQError) -> QueryResult {
        guard let raw else {
            throw PQError.from(result: nil, connection: handle, context: context())
        }
        switch PQresultStatus(raw) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY, PGRES_SINGLE_TUPLE:
            return QueryResult(raw)
        default:
            let error = PQError.from(result: raw, connection: handle, context: context())
            PQclear(raw)
            throw error
        }
    }
}
