import CLibPQ

extension Connection {
    /// Streams rows into a table with `COPY … FROM STDIN` (text format).
    /// - Parameters:
    ///   - sql: the COPY statement, e.g. `COPY staging (id, body) FROM STDIN`.
    ///   - rows: the rows' fields as text, nil for NULL.
    /// - Returns: the number of rows the server copied.
    /// - Throws: `PQError(.copyFailed)` with the server's SQLSTATE when a row is rejected; no row of
    ///   the COPY is then stored.
    @discardableResult
    public func copyIn(_ sql: String, rows: some Sequence<[String?]>) throws(PQError) -> Int {
        var encoder = CopyEncoder(reservingCapacity: 64 * 1024)
        return try copy(sql) { send in
            for row in rows {
                encoder.appendRow(row)
                if encoder.bytes.count >= 64 * 1024 {
                    guard send(encoder.bytes) else { return }
                    encoder.removeAll()
                }
            }
            _ = send(encoder.bytes)
        }
    }

    /// Streams rows encoded in COPY's binary format (`COPY … FROM STDIN (FORMAT binary)`).
    /// - Returns: the number of rows the server copied.
    /// - Throws: as `copyIn(_:rows:)`.
    @discardableResult
    public func copyIn(_ sql: String, binary encoder: BinaryCopyEncoder) throws(PQError) -> Int {
        try copy(sql) { send in
            if send(encoder.bytes) { _ = send(BinaryCopyEncoder.trailer) }  // no copy of the rows to add two bytes
        }
    }

    /// Starts the COPY, lets `produce` hand over data (`send` says whether to go on), ends it and
    /// drains every result.
    private func copy(_ sql: String, _ produce: (_ send: ([UInt8]) -> Bool) -> Void) throws(PQError) -> Int {
        let conn = try open("COPY")
        let context = PQError.describe(sql)
        guard let start = PQexec(conn, sql) else { throw PQError.from(result: nil, connection: conn, context: context) }
        guard PQresultStatus(start) == PGRES_COPY_IN else {
            _ = try check(start, context: context)  // throws the server's error, if it sent one
            throw PQError(code: .unexpectedResult, message: "the statement did not start a COPY FROM STDIN", context: context)
        }
        PQclear(start)

        var failure: PQError?
        produce { bytes in
            guard failure == nil else { return false }
            var offset = 0
            while offset < bytes.count {
                let length = min(1 << 20, bytes.count - offset)
                let rc = bytes.withUnsafeBytes {
                    PQputCopyData(conn, $0.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self), Int32(length))
                }
                if rc != 1 {
                    failure = PQError(
                        code: .connectionLost, message: PQError.firstLine(String(cString: PQerrorMessage(conn))),
                        context: context)
                    break
                }
                offset += length
            }
            return failure == nil
        }
        _ = PQputCopyEnd(conn, nil)

        // Drain every result: the COPY's own, then nil.
        var copied = 0
        while let raw = PQgetResult(conn) {
            if PQresultStatus(raw) == PGRES_COMMAND_OK {
                copied = Int(String(cString: PQcmdTuples(raw))) ?? 0
                PQclear(raw)
            } else if failure == nil {
                let error = PQError.from(result: raw, connection: conn, context: context)
                failure = PQError(
                    code: error.code == .connectionLost ? .connectionLost : .copyFailed, message: error.message,
                    context: context, sqlState: error.sqlState, detail: error.detail)
                PQclear(raw)
            } else {
                PQclear(raw)
            }
            if PQstatus(conn) == CONNECTION_BAD { break }
        }
        if let failure { throw failure }
        return copied
    }
}
