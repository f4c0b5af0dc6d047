import Foundation
import WorldCore

extension Cellcluster_V1_Event {
    /// A queued event as stored in `deferred_events.payload` and carried by handoffs.
    public init(_ queued: QueuedEvent) {
        self.init()
        sequence = queued.sequence
        switch queued.event {
        case let .entityMove(id, to):
            type = .entityMove
            moveEntity = .with { $0.entityID = id.raw; $0.to = .init(to) }
        case let .entityAction(id, action, deltas):
            type = .entityAction
            entityAction = .with { $0.entityID = id.raw; $0.action = action; $0.statDeltas = deltas }
        case let .cellStateChange(set, remove):
            type = .cellStateChange
            cellStateChange = .with { $0.cellID = queued.cell.raw; $0.set = set; $0.remove = remove }
        case let .worldEvent(name, payload):
            type = .worldEvent
            worldEvent = .with { $0.cellID = queued.cell.raw; $0.name = name; $0.payload = Data(payload) }
        case let .entitySpawn(entity):
            type = .entitySpawn
            spawnEntity = .with { $0.entity = .init(entity) }
        }
    }

    /// The event back, addressed to `cell`.
    /// - Throws: `WireError(.missingBody)` when no event is inside.
    public func queuedEvent(cell: CellID) throws(WireError) -> QueuedEvent {
        QueuedEvent(sequence: sequence, cell: cell, event: try gameEvent())
    }

    public func gameEvent() throws(WireError) -> GameEvent {
        switch body {
        case .moveEntity(let m)?: return .entityMove(EntityID(m.entityID), to: m.to.position)
        case .entityAction(let a)?: return .entityAction(EntityID(a.entityID), action: a.action, deltas: a.statDeltas)
        case .cellStateChange(let c)?: return .cellStateChange(set: c.set, remove: c.remove)
        case .worldEvent(let w)?: return .worldEvent(name: w.name, payload: Array(w.payload))
        case .spawnEntity(let s)?: return .entitySpawn(try s.entity.entity())
        case nil: throw WireError(.missingBody, "event \(sequence) carries no change")
        }
    }
}
