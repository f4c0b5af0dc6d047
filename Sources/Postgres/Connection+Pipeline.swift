import CLibPQ

/// One statement of a pipeline.
public struct PipelinedStatement: Sendable {
    public var sql: String
    public var parameters: [PostgresValue]
    public init(_ sql: String, _ parameters: [PostgresValue] = []) {
        self.sql = sql
        self.parameters = parameters
    }
}

extension Connection {
    /// Statements per synchronisation point: small enough that the server's replies never fill the
    /// socket while this blocking connection is still sending.
    static let pipelineChunk = 256

    /// Runs `statements` as one transaction in one round trip (BEGIN, them, COMMIT).
    /// - Returns: the statements' results, in order (without BEGIN's and COMMIT's).
    /// - Throws: the first failure, after a ROLLBACK: a failed statement makes the server skip the
    ///   COMMIT, and the connection would otherwise stay in an aborted transaction (25P02).
    public func pipelinedTransaction(_ statements: [PipelinedStatement]) throws(PQError) -> [QueryResult] {
        do {
            let results = try pipeline([PipelinedStatement("BEGIN")] + statements + [PipelinedStatement("COMMIT")])
            return Array(results.dropFirst().dropLast())
        } catch {
            if isOpen { _ = try? query("ROLLBACK") }
            throw error
        }
    }

    /// Sends many statements without waiting for each reply (libpq pipeline mode), in chunks of up
    /// to `pipelineChunk` that each end with a sync point. Outside an explicit transaction each chunk
    /// commits as one implicit transaction. A failure aborts the rest of its chunk, and later chunks
    /// are not sent.
    /// - Returns: the results in statement order.
    /// - Throws: the first statement's `PQError`; every reply is read before it is thrown.
    public func pipeline(_ statements: [PipelinedStatement]) throws(PQError) -> [QueryResult] {
        let conn = try open("pipeline")
        // Prepared before the pipeline starts (PQprepare waits for its answer, which pipeline
        // mode does not allow); each is prepared once per session.
        var names: [String?] = []
        names.reserveCapacity(statements.count)
        for statement in statements {
            names.append(statement.parameters.isEmpty ? nil : try preparedName(statement.sql, statement.parameters, conn: conn))
        }
        guard PQenterPipelineMode(conn) == 1 else {
            throw PQError(code: .unexpectedResult, message: PQError.firstLine(String(cString: PQerrorMessage(conn))),
                          context: "enter pipeline mode")
        }
        defer { PQexitPipelineMode(conn) }
        var results: [QueryResult] = []
        results.reserveCapacity(statements.count)
        var failure: PQError?
        var start = 0
        while start < statements.count {
            let chunk = statements[start..<min(start + Self.pipelineChunk, statements.count)]
            start += chunk.count
            for (index, statement) in zip(chunk.indices, chunk) {
                let name = names[index]
                let sent = withEncodedParameters(statement.parameters) { count, types, values, lengths, formats in
                    if let name { PQsendQueryPrepared(conn, name, count, values, lengths, formats, 0) }
                    else { PQsendQueryParams(conn, statement.sql, count, types, values, lengths, formats, 0) }
                }
                if sent != 1 {
                    throw PQError(code: .connectionLost, message: PQError.firstLine(String(cString: PQerrorMessage(conn))),
                                  context: "pipeline send \(PQError.describe(statement.sql))")
                }
            }
            guard PQpipelineSync(conn) == 1 else {
                throw PQError(code: .connectionLost, message: PQError.firstLine(String(cString: PQerrorMessage(conn))),
                              context: "pipeline sync")
            }
            for statement in chunk {
                guard let raw = PQgetResult(conn) else {
                    throw PQError.from(result: nil, connection: conn, context: "pipeline \(PQError.describe(statement.sql))")
                }
                while let extra = PQgetResult(conn) { PQclear(extra) }  // the nil that ends this statement
                if PQresultStatus(raw) == PGRES_PIPELINE_ABORTED {
                    PQclear(raw)
                    continue
                }
                do {
                    results.append(try check(raw, context: "pipeline \(PQError.describe(statement.sql))"))
                } catch {
                    forgetPrepared(after: error)
                    if failure == nil { failure = error }
                }
            }
            // The sync point's own result.
            if let sync = PQgetResult(conn) { PQclear(sync) }
            if let failure { throw failure }
        }
        return results
    }
}
