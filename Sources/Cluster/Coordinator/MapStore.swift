import Postgres
import Wire

/// The shard maps in PostgreSQL: the coordinator's memory across restarts.
struct MapStore {
    let connection: Connection

    /// The newest map, or nil before the first.
    func latest() throws -> Cellcluster_V1_ShardMap? {
        let result = try connection.query("SELECT map FROM shard_maps ORDER BY epoch DESC LIMIT 1")
        guard result.rowCount > 0 else { return nil }
        guard let bytes = result.bytea(0, 0) else {
            throw PQError(code: .decodingFailed, message: "shard_maps.map is not bytea hex", context: "load shard map")
        }
        do {
            return try Cellcluster_V1_ShardMap(serializedBytes: bytes)
        } catch {
            throw PQError(code: .decodingFailed, message: "the stored shard map does not decode: \(error)", context: "load shard map")
        }
    }

    /// Stores a new map; its epoch must be newer than every stored one (the primary key and the
    /// check keep two coordinators from both winning).
    /// - Parameter also: more statements for the same transaction (ownership rows, revocations).
    func save(_ map: Cellcluster_V1_ShardMap, also: (Connection) throws -> Void = { _ in }) throws {
        let bytes: [UInt8] = (try? map.serializedBytes()) ?? []
        try connection.transaction { conn in
            try also(conn)
            try conn.query("LOCK TABLE shard_maps IN EXCLUSIVE MODE")
            let newest = try conn.query("SELECT coalesce(max(epoch), 0) FROM shard_maps")
            guard UInt64(bitPattern: try newest.int64(0, 0)) < map.epoch else {
                throw PQError(code: .statementFailed, message: "a map with epoch \(map.epoch) or newer exists", context: "save shard map", sqlState: "23505")
            }
            try conn.query("INSERT INTO shard_maps (epoch, map) VALUES ($1, $2)", [.int64(Int64(bitPattern: map.epoch)), .bytes(bytes)])
        }
    }
}
