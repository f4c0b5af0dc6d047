import Postgres

/// Server settings that cost a running cluster, read when the schema is migrated or shown.
///
/// Checkpoints rewrite `entity_states` thousands of rows a second. Each rewrite that moves an
/// entity to another cell leaves a dead row version and a dead index entry behind until a vacuum
/// removes them, and every lookup by cell visits them: after a soak left 300,000 of them for
/// 11,000 entities, reading 3,008 cells' players took 150 ms on an idle server, and 17 ms after
/// one vacuum (110 ms). Under load that read is most of a takeover. PostgreSQL's default minute
/// between autovacuum runs lets them pile up; scripts/pg sets a second.
public enum ServerAdvice {
    /// The longest pause between autovacuum runs that is not worth a warning.
    public static let naptimeLimitSeconds = 10

    /// One line per setting worth changing (empty when there is none).
    public static func read(_ connection: Connection) throws(PQError) -> [String] {
        let result = try connection.query("""
            SELECT current_setting('autovacuum')::bool, (SELECT setting::int8 FROM pg_settings WHERE name = 'autovacuum_naptime')
            """)
        return advice(autovacuum: try result.bool(0, 0), naptimeSeconds: try result.int64(0, 1))
    }

    static func advice(autovacuum: Bool, naptimeSeconds: Int64) -> [String] {
        let cost = "entity_states gathers a dead row version per checkpointed move, and loading cells (a takeover's first step) slows down with every one"
        guard autovacuum else { return ["autovacuum is off: \(cost); turn autovacuum on, with autovacuum_naptime = 1s"] }
        guard naptimeSeconds > Int64(naptimeLimitSeconds) else { return [] }
        return ["autovacuum_naptime is \(naptimeSeconds) s: between vacuums \(cost); set autovacuum_naptime = 1s (postgresql.conf; scripts/pg does)"]
    }
}
