/// The kinds of event clients send. Durability classes and queue persistence are per kind.
public enum EventKind: UInt8, Sendable, CaseIterable {
    case entityMove = 1
    case entityAction = 2
    case cellStateChange = 3
    case worldEvent = 4
    /// A new entity entering an inactive cell waits in its queue like any other event.
    case entitySpawn = 5
}

/// One change to the world, addressed to a cell.
public enum GameEvent: Sendable, Equatable {
    case entityMove(EntityID, to: Position)
    case entityAction(EntityID, action: String, deltas: [String: Double])
    case cellStateChange(set: [String: String], remove: [String])
    case worldEvent(name: String, payload: [UInt8])
    case entitySpawn(Entity)

    public var kind: EventKind {
        switch self {
        case .entityMove: .entityMove
        case .entityAction: .entityAction
        case .cellStateChange: .cellStateChange
        case .worldEvent: .worldEvent
        case .entitySpawn: .entitySpawn
        }
    }

    /// The entity an entity event is about (nil for cell-level events).
    public var entity: EntityID? {
        switch self {
        case let .entityMove(id, _), let .entityAction(id, _, _): id
        case let .entitySpawn(entity): entity.id
        case .cellStateChange, .worldEvent: nil
        }
    }
}

/// An event waiting in an inactive cell's queue, with its place in that cell's order.
public struct QueuedEvent: Sendable, Equatable {
    public let sequence: UInt64
    public let cell: CellID
    public let event: GameEvent

    public init(sequence: UInt64, cell: CellID, event: GameEvent) {
        self.sequence = sequence
        self.cell = cell
        self.event = event
    }
}

/// What became of an event.
public enum EventOutcome: Sendable, Equatable {
    /// Applied to memory; the entity or cell is now at this version (0 for cell-level events).
    case applied(version: UInt64)
    /// Queued for an inactive cell; replayed in order when the cell activates.
    case deferred(sequence: UInt64)
}
