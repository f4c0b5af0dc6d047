/// Bounds on what one request may carry: the sizes a client controls. A request over one is
/// refused with `WorldError.overLimit`, which names the limit's cluster.yml key.
public struct InputLimits: Sendable, Equatable {
    /// Stats one entity may hold (`limits.max_stats_per_entity`).
    public var statsPerEntity: Int
    /// Bytes of a stat name, cell-state key, action name or world-event name (`limits.max_key_bytes`).
    public var keyBytes: Int
    /// Bytes of one cell-state value (`limits.max_value_bytes`).
    public var valueBytes: Int
    /// Bytes of a world event's payload (`limits.max_event_payload_bytes`).
    public var eventPayloadBytes: Int
    /// Keys one cell's state may hold (`limits.max_cell_state_keys`).
    public var cellStateKeys: Int
    /// Requests one batch may carry (`limits.max_batch_requests`).
    public var batchRequests: Int

    public init(statsPerEntity: Int = 256, keyBytes: Int = 256, valueBytes: Int = 4096,
                eventPayloadBytes: Int = 65_536, cellStateKeys: Int = 1024, batchRequests: Int = 4096) {
        self.batchRequests = batchRequests
        self.statsPerEntity = statsPerEntity
        self.keyBytes = keyBytes
        self.valueBytes = valueBytes
        self.eventPayloadBytes = eventPayloadBytes
        self.cellStateKeys = cellStateKeys
    }

    /// Checks the sizes an event carries on its own (not what it adds up to with stored state).
    /// - Throws: `.overLimit` naming the first limit it passes.
    public func check(_ event: GameEvent) throws(WorldError) {
        switch event {
        case .entityMove:
            return
        case let .entityAction(_, action, deltas):
            try key(action, "action name")
            try count(deltas.count, statsPerEntity, "stat deltas", "max_stats_per_entity")
            for name in deltas.keys { try key(name, "stat name") }
        case let .entitySpawn(entity):
            try count(entity.stats.count, statsPerEntity, "stats", "max_stats_per_entity")
            for name in entity.stats.keys { try key(name, "stat name") }
        case let .cellStateChange(set, remove):
            try count(set.count, cellStateKeys, "keys to set", "max_cell_state_keys")
            try count(remove.count, cellStateKeys, "keys to remove", "max_cell_state_keys")
            for (name, value) in set {
                try key(name, "cell-state key")
                guard value.utf8.count <= valueBytes else {
                    throw .overLimit(what: "the value of cell-state key \(Self.shown(name))", size: value.utf8.count,
                                     key: "max_value_bytes", limit: valueBytes)
                }
            }
            for name in remove { try key(name, "cell-state key") }
        case let .worldEvent(name, payload):
            try key(name, "world-event name")
            guard payload.count <= eventPayloadBytes else {
                throw .overLimit(what: "world-event payload", size: payload.count, key: "max_event_payload_bytes", limit: eventPayloadBytes)
            }
        }
    }

    private func key(_ name: String, _ what: String) throws(WorldError) {
        guard name.utf8.count <= keyBytes else {
            throw .overLimit(what: "\(what) \(Self.shown(name))", size: name.utf8.count, key: "max_key_bytes", limit: keyBytes)
        }
    }

    private func count(_ n: Int, _ limit: Int, _ what: String, _ key: String) throws(WorldError) {
        guard n <= limit else { throw .overLimit(what: what, size: n, key: key, limit: limit) }
    }

    /// A name short enough for an error message.
    static func shown(_ name: String) -> String {
        name.utf8.count <= 40 ? "\"\(name)\"" : "\"\(name.prefix(32))…\""
    }
}
