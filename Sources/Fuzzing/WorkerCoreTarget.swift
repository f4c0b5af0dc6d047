import Security
import Wire
import WorldCore

/// libFuzzer target 2: a sequence of messages from senders of any role (client, worker, operator,
/// or one without a key) against a small world, handled as a worker does: the role gate first,
/// then the pure core: spawn validation, request routing, the shard's apply, reads, handoff
/// offers and their claims, cell activation, cell loads and checkpoints. Nothing may trap, and
/// every entity in memory stays in the cell its position is in.
public struct WorkerCoreTarget {
    static let grid = try! Grid(width: 512, height: 512, cellSize: 64)  // 8 x 8 cells
    static let roles: [String?] = ["client/fuzz", "worker/worker", "operator/ops", nil]

    var shard = Shard(settings: ShardSettings(grid: grid, queueLimit: 64, maxUnsavedChanges: 10_000, earlyFlushThreshold: 50))
    var handoffs = Handoffs<UInt64>(firstID: 1)
    let gate = Gate(enforcing: true)
    var now = ContinuousClock.now

    public init() {}

    public static func run(_ bytes: [UInt8]) {
        var world = WorkerCoreTarget()
        for (role, frame) in FuzzInput(bytes) { world.handle(frame, user: roles[Int(role) % roles.count]) }
        world.checkInvariants()
    }

    mutating func handle(_ frame: [UInt8], user: String?) {
        now = now + .milliseconds(7)
        guard var envelope = try? WireFormat.decode(frame) else { return }
        guard gate.admit(&envelope, user: user) == .admit, let body = envelope.body else { return }
        precondition(user.flatMap(KeyIdentity.init(userID:))?.role.permits(body) == true, "the gate admitted what the role may not send")
        serve(body, requestID: envelope.requestID)
        settle()
    }

    mutating func serve(_ body: Envelope.OneOf_Body, requestID: UInt64) {
        let grid = Self.grid
        switch body {
        case .spawnEntity(let spawn):
            guard var entity = try? spawn.newEntity(), let cell = try? grid.cell(at: entity.position) else { return }
            entity.cell = cell
            guard (try? shard.validateSpawn(entity)) != nil else { return }
            _ = try? shard.apply(.entitySpawn(entity), to: cell, now: now)
        case .moveEntity(let move):
            let id = EntityID(move.entityID)
            guard handoffs.route(id, in: shard, now: now) == nil else { return }
            let target = move.to.position
            let route = RequestRouting.move(id, to: target, claimedCell: CellID(move.cellID), in: &shard, gate: { cell, _ in Self.gate(cell) })
            switch route {
            case .apply(let cell), .replayFirst(let cell):
                _ = try? shard.apply(.entityMove(id, to: target), to: cell, now: now)
            case .handoff(let worker, let cell):
                perform(handoffs.start(id, to: target, cell: cell, target: worker, reply: requestID, shard: shard, now: now))
            case .retry, .saveReplaysFirst, .invalid:
                break
            }
        case .entityAction(let action):
            let id = EntityID(action.entityID)
            let cell = shard.entity(id)?.cell ?? CellID(action.cellID)
            _ = try? shard.apply(.entityAction(id, action: action.action, deltas: action.statDeltas), to: cell, now: now)
        case .cellStateChange(let change):
            _ = try? shard.apply(.cellStateChange(set: change.set, remove: change.remove), to: CellID(change.cellID), now: now)
        case .worldEvent(let event):
            _ = try? shard.apply(.worldEvent(name: event.name, payload: Array(event.payload)), to: CellID(event.cellID), now: now)
        case .getEntity(let get):
            _ = shard.entity(EntityID(get.entityID))
        case .getCell(let get):
            if grid.contains(CellID(get.cellID)) { _ = shard.readCell(CellID(get.cellID), now: now) }
        case .handoffOffer(let offer):
            guard let entity = try? offer.entity.entity() else { return }
            let received = Handoffs<UInt64>.Offer(handoffID: offer.handoffID, entity: entity, sourceWorker: offer.sourceWorker,
                                                  sourceEpoch: offer.sourceEpoch, sourceLease: offer.sourceLease, reply: requestID)
            let serves = (try? grid.cell(at: entity.position)).map { Self.gate($0) == .serve } ?? false
            perform(handoffs.offered(received, serves: serves, shard: &shard, now: now))
        case .handoffAccept(let accept):
            perform(handoffs.accepted(EntityID(accept.entityID), handoffID: accept.handoffID, shard: &shard, now: now))
        case .handoffAbort(let abort):
            perform(handoffs.refused(EntityID(abort.entityID), handoffID: abort.handoffID, reason: abort.reason, shard: &shard, now: now))
        case .activateCells(let activate):
            let cells = Set(activate.cellIds.prefix(64).map(CellID.init).filter(grid.contains))
            shard.setExternalInterest(activate.release ? [] : cells, now: now)
        default:
            break  // membership and operations: answered by the shell from its own state
        }
    }

    /// Half the world is this worker's, half another's ("peer"): moves across the line hand off.
    static func gate(_ cell: CellID) -> RequestRouting.Gate {
        grid.coord(of: cell).column < 4 ? .serve : .redirect(worker: "peer")
    }

    /// Claims succeed, loads find empty cells, checkpoints commit: storage that always works.
    mutating func perform(_ actions: [Handoffs<UInt64>.Action]) {
        var pending = actions
        var rounds = 0
        while !pending.isEmpty && rounds < 16 {
            rounds += 1
            var next: [Handoffs<UInt64>.Action] = []
            for action in pending {
                if case .claim(_, _, _, let claim) = action {
                    next += handoffs.claimed(claim, .won, shard: &shard, now: now)
                }
            }
            pending = next
        }
    }

    mutating func settle() {
        perform(handoffs.tick(shard: &shard, now: now))
        shard.tick(now: now)
        for case let .load(cell) in shard.takeActions() { shard.cellLoaded(CellCheckpoint(cell: cell), now: now) }
        if let batch = shard.takeCheckpoint(now: now) { shard.checkpointSucceeded(batch, duration: .zero, now: now) }
    }

    func checkInvariants() {
        for entity in shard.allEntities {
            precondition((try? Self.grid.cell(at: entity.position)) == entity.cell,
                         "entity \(entity.id.raw) at \(entity.position) is filed under cell \(entity.cell.raw)")
        }
    }
}
