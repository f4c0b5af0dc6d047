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

    /// Autovacuum analyzes the two busiest tables about every second (see migration 7): their
    /// statistics come from a small sample, and columns no query filters on keep none.
    @Test func theBusiestTablesKeepSmallStatistics() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let db = try Connection(parameters)
            _ = try Migrator().migrate(db)
            try db.query("""
                INSERT INTO entity_states (entity_id, cell_id, kind, stats, position, version, owner_epoch)
                SELECT i, i % 997, 1, '{"hp": 100}', jsonb_build_object('x', i, 'y', i), i, 1 FROM generate_series(1, 20000) i
                """)
            try db.query("""
                INSERT INTO applied_requests (sender, request_id, entity_id, cell_id, reply)
                SELECT convert_to('s' || (i % 7), 'UTF8'), i, i, i % 997, int8send(i) FROM generate_series(1, 20000) i
                """)
            try db.query("ANALYZE entity_states, applied_requests")
            let kept = try db.query("""
                SELECT tablename || '.' || attname, coalesce(array_length(histogram_bounds::text::text[], 1), 0)
                FROM pg_stats WHERE tablename IN ('entity_states', 'applied_requests') ORDER BY 1
                """)
            var bounds: [String: Int64] = [:]
            for row in 0..<kept.rowCount { bounds[kept.string(row, 0) ?? ""] = try kept.int64(row, 1) }
            #expect(Set(bounds.keys) == [
                "applied_requests.applied_at", "applied_requests.cell_id", "applied_requests.entity_id",
                "applied_requests.request_id", "applied_requests.sender",
                "entity_states.cell_id", "entity_states.entity_id", "entity_states.kind", "entity_states.owner_epoch",
            ])
            // A statistics target of 10: at most 11 histogram bounds (PostgreSQL's default, 100: 101).
            #expect(bounds["entity_states.entity_id"].map { $0 > 0 && $0 <= 11 } == true)
            #expect(bounds["applied_requests.request_id"].map { $0 > 0 && $0 <= 11 } == true)
        }
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
