import Wire

/// What a key may do in the cluster. Each key file names one role; a message outside the sender's
/// role is answered PERMISSION_DENIED and has no effect.
public enum Role: String, Sendable, CaseIterable {
    /// Game requests only: spawn, move, action, cell state, world event, reads, the shard map.
    case client
    /// The cluster's own processes: game requests, plus membership (register, heartbeat, drain
    /// itself), handoff and cell-activation messages between workers.
    case worker
    /// Game requests, plus scale, drain, audit and status.
    case `operator`

    /// Whether a sender with this role may send `body` (nil, an empty envelope: anyone, and the
    /// receiver answers it as malformed).
    public func permits(_ body: Envelope.OneOf_Body?) -> Bool {
        guard let body else { return true }
        switch Self.kind(of: body) {
        case .game: return true
        case .cluster: return self == .worker
        case .operation: return self == .operator
        case .membership: return self == .worker || self == .operator
        case .answer: return self == .worker
        }
    }

    /// The name of a message as the .proto spells it, for refusals.
    public static func name(of body: Envelope.OneOf_Body) -> String {
        switch body {
        case .spawnEntity: "spawn_entity"
        case .moveEntity: "move_entity"
        case .entityAction: "entity_action"
        case .cellStateChange: "cell_state_change"
        case .worldEvent: "world_event"
        case .getEntity: "get_entity"
        case .getCell: "get_cell"
        case .batch: "batch"
        case .batchReply: "batch_reply"
        case .reply: "reply"
        case .getShardMap: "get_shard_map"
        case .shardMap: "shard_map"
        case .registerWorker: "register_worker"
        case .heartbeat: "heartbeat"
        case .leaseGrant: "lease_grant"
        case .handoffOffer: "handoff_offer"
        case .handoffAccept: "handoff_accept"
        case .handoffCommitted: "handoff_committed"
        case .handoffAbort: "handoff_abort"
        case .activateCells: "activate_cells"
        case .statusRequest: "status_request"
        case .statusReply: "status_reply"
        case .scaleRequest: "scale_request"
        case .drainRequest: "drain_request"
        case .auditRequest: "audit_request"
        case .auditReply: "audit_reply"
        }
    }

    private enum Kind { case game, cluster, operation, membership, answer }

    private static func kind(of body: Envelope.OneOf_Body) -> Kind {
        switch body {
        case .spawnEntity, .moveEntity, .entityAction, .cellStateChange, .worldEvent, .getEntity, .getCell, .getShardMap:
            .game
        case .batch:  // of game requests only: a worker answers anything else in it INVALID_ARGUMENT
            .game
        case .registerWorker, .heartbeat, .handoffOffer, .handoffAccept, .handoffCommitted, .handoffAbort, .activateCells:
            .cluster
        case .scaleRequest, .auditRequest, .statusRequest:
            .operation
        case .drainRequest:  // a worker asks to leave; an operator drains any worker
            .membership
        case .reply, .batchReply, .shardMap, .leaseGrant, .statusReply, .auditReply:
            .answer  // only ever sent by a server; nothing a client or operator sends
        }
    }
}
