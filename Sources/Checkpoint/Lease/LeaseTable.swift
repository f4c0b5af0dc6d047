import Postgres

/// The leases in PostgreSQL, as the coordinator sees them: grants on registration, and the
/// revocation of leases that ran out (PostgreSQL's clock is the only one that judges expiry).
public struct LeaseTable {
    public let connection: Connection

    public init(connection: Connection) {
        self.connection = connection
    }

    public struct Lease: Sendable, Equatable {
        public let worker: String
        public let generation: Int64
        public let endpoint: String
    }

    /// A new incarnation of `worker`: a fresh generation, which revokes any older one (the
    /// statement waits for that incarnation's writes in flight).
    /// - Parameter fence: the granting coordinator's `Leadership.holdStatement`, run first.
    public func grant(worker: String, endpoint: String, leaseMs: Int, fence: PipelinedStatement? = nil) throws(PQError) -> Int64 {
        // Delete, then insert: the delete waits for the old incarnation's writes in flight.
        let fence = fence.map { [$0] } ?? []
        let results = try connection.pipelinedTransaction(fence + [
            PipelinedStatement("DELETE FROM worker_leases WHERE worker_id = $1", [.text(worker)]),
            PipelinedStatement("""
                INSERT INTO worker_leases (worker_id, generation, endpoint, expires_at)
                VALUES ($1, nextval('lease_generations'), $2, now() + $3::int8 * interval '1 millisecond')
                RETURNING generation
                """, [.text(worker), .text(endpoint), .int64(Int64(leaseMs))]),
        ])
        return try results[fence.count + 1].int64(0, 0)
    }

    /// Every lease held now (expired or not).
    public func all() throws(PQError) -> [Lease] {
        let result = try connection.query("SELECT worker_id, generation, endpoint FROM worker_leases ORDER BY worker_id")
        return try (0..<result.rowCount).map { row throws(PQError) in
            Lease(worker: result.string(row, 0) ?? "", generation: try result.int64(row, 1), endpoint: result.string(row, 2) ?? "")
        }
    }

    /// Leases that ran out, by PostgreSQL's clock.
    public func expired() throws(PQError) -> [Lease] {
        let result = try connection.query(
            "SELECT worker_id, generation, endpoint FROM worker_leases WHERE expires_at < now() ORDER BY worker_id")
        return try (0..<result.rowCount).map { row throws(PQError) in
            Lease(worker: result.string(row, 0) ?? "", generation: try result.int64(row, 1), endpoint: result.string(row, 2) ?? "")
        }
    }

    /// What became of a lease the coordinator found expired.
    public enum Revocation: Sendable, Equatable {
        case revoked
        /// Gone already (a new incarnation registered, or it returned it).
        case gone
        /// Renewed after all: the renewal committed while the revocation waited for the row (a
        /// renewal slowed down by a loaded database). The worker keeps its lease and its cells.
        case renewed
    }

    /// Revokes an expired lease in the current transaction, as `revoke` does, unless it is no
    /// longer expired when the row lock is had (PostgreSQL re-reads the row a renewal changed).
    public static func revokeExpired(_ lease: Lease, in connection: Connection) throws(PQError) -> Revocation {
        let key: [PostgresValue] = [.text(lease.worker), .int64(lease.generation)]
        let deleted = try connection.query(
            "DELETE FROM worker_leases WHERE worker_id = $1 AND generation = $2::int8 AND expires_at < now()", key)
        if deleted.affectedRows == 1 { return .revoked }
        let still = try connection.query("SELECT 1 FROM worker_leases WHERE worker_id = $1 AND generation = $2::int8", key)
        return still.rowCount > 0 ? .renewed : .gone
    }

    /// The database session name of a worker's lease keeper (as PostgreSQL keeps it: 63 bytes).
    public static func keeperApplication(_ worker: String) -> String {
        sessionName("cellcluster-lease-\(worker)")
    }

    /// The database session name of a worker's storage sessions.
    public static func workerApplication(_ worker: String) -> String {
        sessionName("cellcluster-worker-\(worker)")
    }

    /// The database session name of a worker's checkpoint writer.
    public static func checkpointApplication(_ worker: String) -> String {
        sessionName("cellcluster-checkpoint-\(worker)")
    }

    private static func sessionName(_ full: String) -> String {
        var name = full
        while name.utf8.count > 63 { name.removeLast() }
        return name
    }

    /// Ends the sessions of `worker` that are inside a transaction, for a worker whose lease ran
    /// out (or that is gone) while a write of it holds a row the revocation needs. Neither
    /// `idle_in_transaction_session_timeout` nor a statement timeout frees a session stuck
    /// sending its answer to a paused client: PostgreSQL cannot cancel a statement in the middle
    /// of a message, only end the session. Its writes would be fenced anyway. Its storage
    /// sessions and its checkpoint writer's both: every checkpoint holds the lease row (a worker
    /// paused inside one kept its lease through a 3-s pause, when only the first were ended). In
    /// this database only: another cluster on the same server may have a worker of that name.
    /// - Returns: how many sessions were ended.
    public func endTransactions(of worker: String) throws(PQError) -> Int {
        let result = try connection.query("""
            SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE application_name IN ($1, $2) AND datname = current_database() AND xact_start IS NOT NULL
              AND pid <> pg_backend_pid()
            """, [.text(Self.workerApplication(worker)), .text(Self.checkpointApplication(worker))])
        return Int(try result.int64(0, 0))
    }

    /// Unexpired leases of `workers` whose lease keeper has no database session: each with its
    /// expiry as text, to compare it exactly later.
    public func withoutKeeper(_ workers: [String]) throws(PQError) -> [(lease: Lease, expiresAt: String)] {
        guard !workers.isEmpty else { return [] }
        let result = try connection.query("""
            SELECT l.worker_id, l.generation, l.endpoint, l.expires_at::text
            FROM worker_leases l JOIN unnest($1::text[], $2::text[]) AS k(worker, application) ON k.worker = l.worker_id
            WHERE l.expires_at >= now()
              AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = k.application AND a.datname = current_database())
            ORDER BY l.worker_id
            """, [.text(ArrayLiteral.texts(workers)), .text(ArrayLiteral.texts(workers.map(Self.keeperApplication)))])
        return try (0..<result.rowCount).map { row throws(PQError) in
            (Lease(worker: result.string(row, 0) ?? "", generation: try result.int64(row, 1), endpoint: result.string(row, 2) ?? ""),
             result.string(row, 3) ?? "")
        }
    }

    /// Revokes, before it ran out, the lease of a worker found gone, in the current transaction:
    /// only while it still is (not renewed since `expiresAt` was read, its lease keeper still
    /// without a database session). A live worker whose keeper loses its session stops serving
    /// at its next renewal attempt (`LeaseKeeper`), so what is revoked here serves nobody.
    public static func revokeVanished(_ lease: Lease, expiresAt: String, in connection: Connection) throws(PQError) -> Revocation {
        let key: [PostgresValue] = [.text(lease.worker), .int64(lease.generation)]
        let deleted = try connection.query("""
            DELETE FROM worker_leases WHERE worker_id = $1 AND generation = $2::int8 AND expires_at = $3::timestamptz
              AND NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = $4 AND datname = current_database())
            """, key + [.text(expiresAt), .text(keeperApplication(lease.worker))])
        if deleted.affectedRows == 1 { return .revoked }
        let still = try connection.query("SELECT 1 FROM worker_leases WHERE worker_id = $1 AND generation = $2::int8", key)
        return still.rowCount > 0 ? .renewed : .gone
    }

    /// Revokes a lease in the current transaction: waits for the holder's writes in flight; after
    /// commit, none of its writes can commit. False when that generation is gone already.
    public static func revoke(_ lease: Lease, in connection: Connection) throws(PQError) -> Bool {
        try connection.query(
            "DELETE FROM worker_leases WHERE worker_id = $1 AND generation = $2::int8", [.text(lease.worker), .int64(lease.generation)]
        ).affectedRows == 1
    }
}
