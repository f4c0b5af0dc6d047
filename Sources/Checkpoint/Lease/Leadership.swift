import Postgres

/// Which coordinator leads, decided in PostgreSQL (`coordinator_leader`, one row): the leader
/// renews a lease there; a standby takes the row over once the lease has run out by
/// PostgreSQL's clock, raising the generation. Every write a coordinator makes (maps, grants,
/// revocations) first calls `hold` in its transaction, so a deposed leader (paused, cut off)
/// cannot write after a takeover, and a takeover waits for its writes in flight.
public struct Leadership {
    public let connection: Connection
    /// This coordinator's name (`--id`): unique per coordinator. The lead changes hands only once
    /// free (its lease ran out, or it was given up): a restarted leader stands by like any other.
    public let name: String
    public let endpoint: String
    public let leaseMs: Int

    public init(connection: Connection, name: String, endpoint: String, leaseMs: Int) {
        self.connection = connection
        self.name = name
        self.endpoint = endpoint
        self.leaseMs = leaseMs
    }

    /// The leader as the row says (nil before any coordinator led).
    public struct Leader: Sendable, Equatable {
        public let holder: String
        public let generation: Int64
        public let endpoint: String
        /// False once its lease ran out (by PostgreSQL's clock).
        public let live: Bool
    }

    /// Takes the lead when nobody holds it or its lease ran out.
    /// - Returns: the new generation, or nil when another coordinator leads.
    /// It waits at most 100 ms for the row (a leader's write in flight holds it): a standby
    /// whose leader is stuck in a write stays responsive, and tries again later.
    public func acquire() throws(PQError) -> Int64? {
        try take()?.generation
    }

    /// What `take` won: the generation, and whether the lead was free because its last holder
    /// resigned (an orderly stop) or had never been taken, rather than run out (a crash).
    public struct Taken: Sendable, Equatable {
        public let generation: Int64
        public let afterOrderlyStop: Bool
    }

    /// `acquire`, telling also how the previous leader ended.
    public func take() throws(PQError) -> Taken? {
        let results: [QueryResult]
        do {
            results = try connection.pipelinedTransaction([
                PipelinedStatement("SET LOCAL lock_timeout = '100ms'"),
                PipelinedStatement(Self.acquireSQL, [.text(name), .text(endpoint), .int64(Int64(leaseMs))]),
            ])
        } catch where error.sqlState == "55P03" {
            return nil  // lock_not_available: the leader's write holds the row
        }
        let result = results[1]
        guard result.rowCount == 1 else { return nil }
        return Taken(generation: try result.int64(0, 0), afterOrderlyStop: result.string(0, 1) != "f")
    }

    // A resigned lead ends at -infinity; the CTE reads the row as it was before the upsert.
    private static let acquireSQL = """
        WITH previous AS (SELECT expires_at = '-infinity'::timestamptz AS resigned FROM coordinator_leader WHERE id = 1)
        INSERT INTO coordinator_leader (id, holder, generation, endpoint, expires_at)
        VALUES (1, $1, 1, $2, now() + $3::int8 * interval '1 millisecond')
        ON CONFLICT (id) DO UPDATE SET holder = EXCLUDED.holder, generation = coordinator_leader.generation + 1,
            endpoint = EXCLUDED.endpoint, expires_at = EXCLUDED.expires_at
        WHERE coordinator_leader.expires_at < now()
        RETURNING generation, coalesce((SELECT resigned FROM previous), true)
        """

    /// Extends the lease of `generation`. False when another coordinator took over.
    public func renew(_ generation: Int64) throws(PQError) -> Bool {
        try connection.query("""
            UPDATE coordinator_leader SET expires_at = now() + $3::int8 * interval '1 millisecond'
            WHERE id = 1 AND holder = $1 AND generation = $2::int8
            """, [.text(name), .int64(generation), .int64(Int64(leaseMs))]).affectedRows == 1
    }

    /// Gives the lead up (an orderly stop): a standby takes over at once instead of after the lease.
    public func resign(_ generation: Int64) throws(PQError) {
        try connection.query("""
            UPDATE coordinator_leader SET expires_at = '-infinity'
            WHERE id = 1 AND holder = $1 AND generation = $2::int8
            """, [.text(name), .int64(generation)])
    }

    public func current() throws(PQError) -> Leader? {
        let result = try connection.query(
            "SELECT holder, generation, endpoint, expires_at >= now() FROM coordinator_leader WHERE id = 1")
        guard result.rowCount == 1 else { return nil }
        return Leader(holder: result.string(0, 0) ?? "", generation: try result.int64(0, 1),
                      endpoint: result.string(0, 2) ?? "", live: result.string(0, 3) == "t")
    }

    /// The statement that, in a transaction, fails it with SQLSTATE CC003 (`isLeadershipLost`)
    /// unless `name` still leads under `generation`, and holds the row till commit.
    public static func holdStatement(_ name: String, _ generation: Int64) -> PipelinedStatement {
        PipelinedStatement("SELECT cellcluster_hold_leadership($1, $2::int8)", [.text(name), .int64(generation)])
    }

    /// Runs `holdStatement` in the current transaction.
    public static func hold(_ name: String, _ generation: Int64, in connection: Connection) throws(PQError) {
        let statement = holdStatement(name, generation)
        try connection.query(statement.sql, statement.parameters)
    }
}

extension PQError {
    /// SQLSTATE CC003: this coordinator no longer leads.
    public var isLeadershipLost: Bool { sqlState == "CC003" }
}
