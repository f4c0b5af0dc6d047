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
