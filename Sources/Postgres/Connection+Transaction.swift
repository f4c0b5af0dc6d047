extension Connection {
    /// Runs `body` inside BEGIN … COMMIT; any error rolls back and is rethrown.
    /// - Throws: the error from `body`, or a `PQError` from BEGIN or COMMIT. A COMMIT that fails
    ///   with `.connectionLost` leaves the outcome unknown: the caller must treat it as maybe-committed.
    public func transaction<T>(_ body: (Connection) throws -> T) throws -> T {
        try query("BEGIN")
        let value: T
        do {
            value = try body(self)
        } catch {
            if isOpen { _ = try? query("ROLLBACK") }
            throw error
        }
        let commit = try query("COMMIT")
        // A transaction that failed inside `body` without throwing answers COMMIT with ROLLBACK.
        guard commit.commandTag == "COMMIT" else {
            throw PQError(
                code: .statementFailed, message: "the transaction was rolled back because a statement in it failed",
                context: "COMMIT", sqlState: "25P02")
        }
        return value
    }
}
