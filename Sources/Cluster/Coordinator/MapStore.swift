import Postgres
import Wire

/// The shard maps in PostgreSQL: the coordinator's memory across restarts.
struct MapStore {
    let connection: Connection

    /// The newest map, or nil before the first.
    func latest() throws -> Cellcluster_V1_ShardMap? {
        let result = try connection.query("SELECT map FROM shard_maps ORDER BY epoch DESC LIMIT 1")
        guard result.rowCount > 0, let text = result.string(0, 0) else { return nil }
        guard let bytes = Self.bytea(text) else {
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
    func save(_ map: Cellcluster_V1_ShardMap) throws {
        let bytes: [UInt8] = (try? map.serializedBytes()) ?? []
        try connection.transaction { conn in
            try conn.query("LOCK TABLE shard_maps IN EXCLUSIVE MODE")
            let newest = try conn.query("SELECT coalesce(max(epoch), 0) FROM shard_maps")
            guard UInt64(bitPattern: try newest.int64(0, 0)) < map.epoch else {
                throw PQError(code: .statementFailed, message: "a map with epoch \(map.epoch) or newer exists", context: "save shard map", sqlState: "23505")
            }
            try conn.query("INSERT INTO shard_maps (epoch, map) VALUES ($1, $2)", [.int64(Int64(bitPattern: map.epoch)), .bytes(bytes)])
        }
    }

    static func bytea(_ text: String) -> [UInt8]? {
        guard text.hasPrefix("\\x") else { return nil }
        let hex = Array(text.utf8.dropFirst(2))
        guard hex.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 97...102: c - 87
            case 65...70: c - 55
            default: nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(hex.count / 2)
        var i = 0
        while i < hex.count {
            guard let h = nibble(hex[i]), let l = nibble(hex[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }
}
