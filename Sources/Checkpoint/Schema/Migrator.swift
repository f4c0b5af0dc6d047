import Postgres

/// Brings a database's schema up to date, one transaction per migration. Safe to run again and
/// from several processes at once: an advisory lock serialises them.
public struct Migrator: Sendable {
    public struct Report: Sendable, Equatable {
        /// Versions applied by this run, in order (empty when the schema was current).
        public var applied: [Int]
        /// The schema version after the run.
        public var current: Int
    }

    public enum Failure: Error, CustomStringConvertible {
        /// The database was migrated by a newer build than this one.
        case databaseNewer(database: Int, known: Int)
        case migrationFailed(version: Int, name: String, error: PQError)

        public var description: String {
            switch self {
            case let .databaseNewer(database, known):
                "the database schema is at version \(database), newer than this build knows (\(known)); upgrade cellcluster"
            case let .migrationFailed(version, name, error):
                "migration \(version) (\(name)) failed and was rolled back: \(error)"
            }
        }
    }

    /// Arbitrary but fixed: the advisory lock key that serialises migrations.
    static let lockKey: Int64 = 0x43_65_6C_6C_4D_69_67

    public let migrations: [Migration]

    public init(migrations: [Migration] = Migration.all) {
        self.migrations = migrations
    }

    /// The highest version applied, or 0 for an empty database.
    public func currentVersion(_ connection: Connection) throws(PQError) -> Int {
        let exists = try connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL")
        guard try exists.bool(0, 0) else { return 0 }
        let result = try connection.query("SELECT coalesce(max(version), 0) FROM schema_migrations")
        return Int(try result.int64(0, 0))
    }

    /// Applies every migration the database lacks.
    /// - Throws: `Failure` when the database is newer than this build or a migration fails (that
    ///   migration is rolled back; earlier ones stay), `PQError` when the connection fails.
    public func migrate(_ connection: Connection) throws -> Report {
        var applied: [Int] = []
        let known = migrations.map(\.version).max() ?? 0
        for migration in migrations {
            let didApply = try connection.transaction { conn in
                try conn.query("SELECT pg_advisory_xact_lock($1)", [.int64(Self.lockKey)])
                try conn.execute(script: """
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        version     integer PRIMARY KEY,
                        name        text NOT NULL,
                        applied_at  timestamptz NOT NULL DEFAULT now()
                    )
                    """)
                let current = try currentVersion(conn)
                if current > known { throw Failure.databaseNewer(database: current, known: known) }
                let done = try conn.query("SELECT 1 FROM schema_migrations WHERE version = $1", [.int32(Int32(migration.version))])
                if done.rowCount > 0 { return false }
                do {
                    try conn.execute(script: migration.sql)
                } catch let error as PQError {
                    throw Failure.migrationFailed(version: migration.version, name: migration.name, error: error)
                }
                try conn.query(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    [.int32(Int32(migration.version)), .text(migration.name)])
                return true
            }
            if didApply { applied.append(migration.version) }
        }
        return Report(applied: applied, current: try currentVersion(connection))
    }
}
