import Foundation
import Postgres
import Wire
import WorldCore

/// The `WorldStore` on PostgreSQL. Owns one connection: give each thread its own store (the
/// worker loads on its thread; the checkpoint writer writes on its own).
public final class PostgresWorldStore: WorldStore {
    public let connection: Connection
    /// Rows per statement when writing a batch.
    public let chunkSize: Int
    /// When set, every write transaction holds this lease first and fails with `isLeaseLost`
    /// once it is revoked.
    public var lease: LeaseToken?

    /// - Parameter chunkSize: rows per statement (cluster.yml `checkpoint.batch_size`).
    public init(connection: Connection, chunkSize: Int = 100) {
        self.connection = connection
        self.chunkSize = max(1, chunkSize)
    }

    public convenience init(_ parameters: ConnectionParameters, chunkSize: Int = 100) throws(PQError) {
        self.init(connection: try Connection(parameters), chunkSize: chunkSize)
    }

    public func loadCell(_ cell: CellID) throws -> CellCheckpoint {
        let results = try connection.pipeline([
            PipelinedStatement(StoreSQL.entitiesInCell, [.int64(cell.raw)]),
            PipelinedStatement(StoreSQL.cellRecord, [.int64(cell.raw)]),
            PipelinedStatement(StoreSQL.eventsInCell, [.int64(cell.raw)]),
        ])
        let entities = try (0..<results[0].rowCount).map { row in try Self.entity(results[0], row, cell: cell) }
        let record = results[1]
        var events: [QueuedEvent] = []
        for row in 0..<results[2].rowCount {
            guard let sequence = Counter.stored(try results[2].int64(row, 0)), let bytes = results[2].bytea(row, 1),
                let decoded = try? Cellcluster_V1_Event(serializedBytes: bytes),
                let event = try? decoded.queuedEvent(cell: cell)
            else { continue }  // does not decode (or a negative sequence): skipped, left in the table for inspection
            events.append(QueuedEvent(sequence: sequence, cell: cell, event: event.event))
        }
        return CellCheckpoint(
            cell: cell, entities: entities,
            properties: record.rowCount > 0 ? JSONText.readStrings(record.string(0, 0)) : [:],
            worldEvents: record.rowCount > 0 ? JSONText.readWorldEvents(record.string(0, 1)) : [],
            events: events)
    }

    public func loadEntity(_ id: EntityID) throws -> Entity? {
        let result = try connection.query(StoreSQL.entity, [.int64(Int64(bitPattern: id.raw))])
        guard result.rowCount > 0 else { return nil }
        return try Self.entity(result, 0, cell: CellID(try result.int64(0, 7)))
    }

    public func maxEventSequence() throws -> UInt64 {
        Counter.stored(try connection.query(StoreSQL.maxSequence).int64(0, 0)) ?? 0  // a negative row is no sequence
    }

    static func entity(_ r: QueryResult, _ row: Int, cell: CellID) throws -> Entity {
        let kindRaw = try r.int64(row, 1)
        guard let kind = EntityKind(rawValue: UInt8(clamping: kindRaw)) else {
            throw PQError(code: .decodingFailed, message: "entity kind \(kindRaw) is unknown", context: "entity_states row")
        }
        let id = UInt64(bitPattern: try r.int64(row, 0))
        func counter(_ column: Int, _ name: String) throws -> UInt64 {
            let stored = try r.int64(row, column)
            guard let value = Counter.stored(stored) else {
                throw PQError(code: .decodingFailed, message: "\(name) \(stored) of entity \(id) is negative",
                              context: "entity_states row")
            }
            return value
        }
        return Entity(
            id: EntityID(id), kind: kind,
            position: JSONText.readPosition(r.string(row, 3)), cell: cell,
            stats: JSONText.readNumbers(r.string(row, 2)),
            version: try counter(4, "version"), actions: try counter(5, "actions"),
            ownerEpoch: try counter(6, "owner_epoch"))
    }
}
