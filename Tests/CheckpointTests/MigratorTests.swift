import Testing
import TestSupport
@testable import Checkpoint
@testable import Postgres

@Suite struct MigratorTests {
    /// Tables, columns, types and indexes: what "the same schema" means.
    static func schemaFingerprint(_ db: Connection) throws -> [[String?]] {
        let columns = try db.query("""
            SELECT table_name, column_name, data_type, is_nullable, column_default
            FROM information_schema.columns WHERE table_schema = 'public'
            ORDER BY table_name, ordinal_position
            """).rows
        let indexes = try db.query("""
            SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname
            """).rows
        return columns + indexes
    }

    @Test func migratingTwiceLeavesTheSameSchema() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let db = try Connection(parameters)
            let migrator = Migrator()
            #expect(try migrator.currentVersion(db) == 0)
            let first = try migrator.migrate(db)
            #expect(first.applied == Migration.all.map(\.version))
            #expect(first.current == Migration.all.last?.version)
            let schema = try Self.schemaFingerprint(db)
            #expect(schema.contains { $0.first == "entity_states" })

            let second = try migrator.migrate(db)
            #expect(second.applied.isEmpty)
            #expect(second.current == first.current)
            #expect(try Self.schemaFingerprint(db) == schema)
        }
    }

    /// scripts/pg starts its servers with autovacuum_naptime = 1s; a server left at PostgreSQL's
    /// minute, or without autovacuum, is named (see `ServerAdvice`).
    @Test func aServerThatVacuumsRarelyIsNamed() throws {
        let db = try TestDatabase.connect()
        defer { db.close() }
        #expect(try ServerAdvice.read(db) == [])
        let minute = ServerAdvice.advice(autovacuum: true, naptimeSeconds: 60)
        #expect(minute.count == 1 && minute[0].hasPrefix("autovacuum_naptime is 60 s"))
        #expect(ServerAdvice.advice(autovacuum: true, naptimeSeconds: 10) == [])
        #expect(ServerAdvice.advice(autovacuum: false, naptimeSeconds: 1).first?.hasPrefix("autovacuum is off") == true)
    }

    @Test func migrationsAreNumberedWithoutGaps() {
        #expect(Migration.all.map(\.version) == Array(1...Migration.all.count))
    }

    @Test func aNewerDatabaseIsRefused() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let db = try Connection(parameters)
            _ = try Migrator().migrate(db)
            try db.query("INSERT INTO schema_migrations (version, name) VALUES (999, 'from the future')")
            #expect(throws: Migrator.Failure.self) { try Migrator().migrate(db) }
        }
    }

    @Test func aFailedMigrationRollsBackAndNamesItself() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let db = try Connection(parameters)
            let broken = Migrator(migrations: Migration.all + [
                Migration(version: 100, name: "broken", sql: "CREATE TABLE half (id int); SELECT no_such_column FROM half"),
            ])
            let error = try #require(throws: Migrator.Failure.self) { try broken.migrate(db) }
            #expect(error.description.contains("migration 100 (broken)"))
            #expect(try db.query("SELECT to_regclass('half') IS NULL").bool(0, 0))
            #expect(try Migrator().currentVersion(db) == Migration.all.last?.version)
        }
    }

    @Test func concurrentMigratorsDoNotCollide() async throws {
        try await TestDatabase.withFreshDatabaseAsync { parameters in
            try await withThrowingTaskGroup(of: Migrator.Report.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        let db = try Connection(parameters)
                        return try Migrator().migrate(db)
                    }
                }
                var applied: [Int] = []
                for try await report in group { applied += report.applied }
                #expect(applied.sorted() == Migration.all.map(\.version))
            }
        }
    }
}
