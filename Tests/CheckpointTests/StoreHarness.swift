import Foundation
import Logging
import Testing
import TestSupport
@testable import Checkpoint
@testable import Postgres
@testable import WorldCore

/// A fresh, migrated database per test, and helpers to build batches.
enum StoreHarness {
    static let grid = try! Grid(width: 1000, height: 1000, cellSize: 100)

    static func withStore<T>(_ body: (PostgresWorldStore, ConnectionParameters) throws -> T) throws -> T {
        try TestDatabase.withFreshDatabase { parameters in
            let connection = try Connection(parameters)
            _ = try Migrator().migrate(connection)
            let store = PostgresWorldStore(connection: connection, chunkSize: 10)
            return try body(store, parameters)
        }
    }

    static func entity(_ id: UInt64, cell: Int64 = 5, hp: Double = 100, version: UInt64 = 1, epoch: UInt64 = 1) -> Entity {
        let c = grid.coord(of: CellID(cell))
        return Entity(id: EntityID(id), kind: .npc, position: Position(x: Double(c.column) * 100 + 10, y: Double(c.row) * 100 + 10),
                      cell: CellID(cell), stats: ["hp": hp], version: version, ownerEpoch: epoch)
    }

    static func batch(_ entities: [Entity], cells: [CellRecord] = [], events: [QueuedEvent] = [], epoch: UInt64 = 1, id: UInt64 = 1) -> CheckpointBatch {
        CheckpointBatch(id: id, epoch: epoch, entities: entities, cells: cells, newEvents: events, oldestChange: nil)
    }

    /// Counts row writes to entity_states with a trigger, so "one row write" can be checked exactly.
    static func countWrites(_ db: Connection) throws {
        try db.execute(script: """
            CREATE TABLE write_count (n bigint NOT NULL);
            INSERT INTO write_count VALUES (0);
            CREATE FUNCTION count_write() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN UPDATE write_count SET n = n + 1; RETURN NEW; END $$;
            CREATE TRIGGER count_writes AFTER INSERT OR UPDATE ON entity_states FOR EACH ROW EXECUTE FUNCTION count_write();
            """)
    }

    static func writes(_ db: Connection) throws -> Int64 { try db.query("SELECT n FROM write_count").int64(0, 0) }

    static let logger = Logger(label: "test.checkpoint")

    /// Waits (bounded) until the condition holds.
    static func eventually(timeout: Duration = .seconds(10), _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return try condition()
    }
}
