import WorldCore

extension Cellcluster_V1_Position {
    public init(_ p: Position) {
        self.init()
        x = p.x
        y = p.y
        z = p.z
    }

    public var position: Position { Position(x: x, y: y, z: z) }
}

extension Cellcluster_V1_EntityKind {
    public init(_ kind: EntityKind) {
        switch kind {
        case .player: self = .player
        case .npc: self = .npc
        case .object: self = .object
        }
    }

    /// - Throws: `WireError(.malformed)` for an unspecified or unknown kind.
    public func entityKind() throws(WireError) -> EntityKind {
        switch self {
        case .player: return .player
        case .npc: return .npc
        case .object: return .object
        default: throw WireError(.malformed, "entity kind \(rawValue) is not player, npc or object")
        }
    }
}

extension Cellcluster_V1_EntityState {
    public init(_ e: Entity) {
        self.init()
        entityID = e.id.raw
        kind = .init(e.kind)
        stats = e.stats
        position = .init(e.position)
        version = e.version
        cellID = e.cell.raw
        ownerEpoch = e.ownerEpoch
        actions = e.actions
    }

    /// The entity, with its cell as sent (the receiver recomputes it from the position).
    public func entity() throws(WireError) -> Entity {
        Entity(
            id: EntityID(entityID), kind: try kind.entityKind(), position: position.position, cell: CellID(cellID),
            stats: stats, version: version, actions: actions, ownerEpoch: ownerEpoch)
    }
}

extension Cellcluster_V1_SpawnEntity {
    /// The entity a client asks to create. Its owner epoch, version and action count belong to
    /// the server: a spawn that sets any of them is refused, so that no client can pick the
    /// epoch that fences writers or a counter with no successor.
    /// - Throws: `WireError(.malformed)` for a missing entity, an unknown kind, or naming a
    ///   server field that was set (a worker answers these with INVALID_ARGUMENT).
    public func newEntity() throws(WireError) -> Entity {
        guard hasEntity else { throw WireError(.malformed, "entity is missing") }
        let serverFields = [("owner_epoch", entity.ownerEpoch), ("version", entity.version), ("actions", entity.actions)]
            .filter { $0.1 != 0 }
        guard serverFields.isEmpty else {
            let named = serverFields.map { "\($0.0) = \($0.1)" }.joined(separator: ", ")
            throw WireError(.malformed, "\(named): the owner epoch, version and action count are the server's; send them as 0")
        }
        return try entity.entity()
    }
}
