/// Where a worker's request goes, decided from the worker's state alone: serve it here, send the
/// client to the cell's owner, ask it to retry, look the entity up in storage, queue it behind
/// its entity's events, or hand the entity to another worker. No sockets, storage or clock: the
/// shell reads the lease clock into `mayServe`, carries the decision out and, where a decision
/// asks for a step first (a replay, a load), takes it and asks again.
///
/// The rules for handoffs themselves live in `Handoffs`, those for cells changing hands in
/// `CellTransfers`.
public enum RequestRouting {
    /// Whether this worker answers for a cell now: lease gating and ownership.
    public enum Gate: Equatable, Sendable {
        case serve
        /// Another worker owns the cell: the client goes there.
        case redirect(worker: String)
        /// Retry: the worker holds no valid lease, or the cell is on its way here.
        case wait(String)
    }

    /// - Parameter mayServe: the worker holds a valid lease at this moment (always true for a
    ///   worker without a coordinator). Read from the clock for each request: a process paused in
    ///   the middle of a batch must not serve the rest of it after its cells failed over.
    public static func gate(_ cell: CellID, in shard: Shard, worker: String, mayServe: Bool) -> Gate {
        gate(cell, ownership: shard.ownership, grid: shard.settings.grid, worker: worker, mayServe: mayServe)
    }

    /// The same from the shard's ownership and grid alone (the request path asks this for every
    /// request: it passes these rather than the shard, which a call would copy).
    public static func gate(_ cell: CellID, ownership: Ownership?, grid: Grid, worker: String, mayServe: Bool) -> Gate {
        guard mayServe else { return .wait("worker \(worker) cannot serve now (no valid lease): retry") }
        guard let ownership, grid.contains(cell) else { return .serve }
        if ownership.owns(cell) { return .serve }
        if ownership.pending.contains(cell) { return .wait("cell \(cell.raw) is moving to worker \(worker): retry") }
        return .redirect(worker: ownership.map.owner(of: cell))
    }

    // MARK: Entities not in memory

    /// What storage said about an entity this worker does not hold (nil entity: never saved).
    /// `fresh` is false when memory let entities go after the question was asked: an eviction or
    /// a drop may have saved state the answer did not see.
    public struct Hint: Equatable, Sendable {
        public var entity: Entity?
        public var fresh: Bool
        public init(entity: Entity?, fresh: Bool) {
            self.entity = entity
            self.fresh = fresh
        }
    }

    public enum Locate: Equatable, Sendable {
        /// Serve it: the entity is in memory, or it was never saved (an event for it follows
        /// the sender's cell into that cell's queue, behind a spawn that may wait there).
        case proceed
        /// Ask storage where it is; the request waits (parked) for the answer.
        case lookUp
        /// Its cell is not served here: answer as the gate says.
        case elsewhere(cell: CellID, Gate)
        /// Its cell is not in memory: load it; the request waits for the load.
        case loadCell(CellID)
        /// Its cell is loading: the request waits for the load.
        case waitForCell(CellID)
        /// Its cell is in memory without it (loaded while the entity was frozen in a handoff):
        /// take the stored row into the cell, then serve.
        case adopt(Entity)
    }

    /// A request about an entity: where the entity is, when memory does not have it. An event for
    /// a stored entity is never queued on the sender's guess of its cell: queued in the wrong
    /// cell, it would be rejected at replay after it was acknowledged.
    ///
    /// Before storage is asked, the sender's cell (`claimedCell`) gets its say: while it is on its
    /// way here (or the lease lapsed) the request is told to retry, and while it is served here
    /// but not in memory the request waits for its load, which brings the entity if it is there
    /// (asked again after the load, the entity is looked up only if it was not). A takeover
    /// otherwise queued one lookup per entity of the dead worker's cells (6,558 in a soak) ahead
    /// of the reads that make those cells served, and they stayed unserved for 4.6 s.
    public static func locate(_ id: EntityID, hint: Hint?, claimedCell: CellID? = nil, in shard: Shard, gate: (CellID) -> Gate) -> Locate {
        guard shard.entity(id) == nil, shard.ownership != nil else { return .proceed }
        guard let hint else {
            guard let claimed = claimedCell, shard.settings.grid.contains(claimed) else { return .lookUp }
            switch gate(claimed) {
            case .wait(let why): return .elsewhere(cell: claimed, .wait(why))
            case .redirect: return .lookUp  // the sender's idea of the cell may be older than a crash
            case .serve:
                switch shard.phase(of: claimed) {
                case nil: return .loadCell(claimed)
                case .loading?: return .waitForCell(claimed)
                case _?: return .lookUp
                }
            }
        }
        guard let stored = hint.entity else {
            // No row when asked; if memory let entities go since, one may be saved now.
            return hint.fresh ? .proceed : .lookUp
        }
        switch gate(stored.cell) {
        case .serve: break
        case let other: return .elsewhere(cell: stored.cell, other)
        }
        switch shard.phase(of: stored.cell) {
        case nil: return .loadCell(stored.cell)
        case .loading?: return .waitForCell(stored.cell)
        // A stale answer may be older than what was saved meanwhile: adopting it would undo
        // acknowledged changes. Ask again.
        case _?: return hint.fresh ? .adopt(stored) : .lookUp
        }
    }

    // MARK: Moves

    public enum Move: Equatable, Sendable {
        /// Apply the move as an event of `cell`, the entity's cell (queued there when inactive).
        case apply(cell: CellID)
        /// An NPC in an inactive cell is leaving for another worker's cell: what waits in its
        /// cell's queue applies first, in order (queued, the move could only be rejected at
        /// replay: this worker cannot move it into a cell it does not own). Then route the move
        /// again with `afterReplay`.
        case replayFirst(cell: CellID)
        /// Hand the entity to `worker`, into `cell`.
        case handoff(worker: String, cell: CellID)
        /// Answer "retry": the target cell is on its way here, or there is no lease.
        case retry(String)
        /// Queued events replayed onto the entity wait in storage: after a crash here they would
        /// replay a second time. Their deletion commits first (checkpoint now), then retry.
        case saveReplaysFirst(String)
        /// The target position is unusable.
        case invalid(WorldError)
    }

    /// A move of an entity this worker serves (or whose spawn may wait in a queue here).
    /// - Parameters:
    ///   - claimedCell: the cell the sender names, used when memory does not hold the entity.
    ///   - afterReplay: the entity's queue was just replayed for this move (`replayFirst`).
    ///   - shard: inout only so that no copy is made: a worker keeps its shard in a class, and
    ///     passing it by value would retain and release every collection in it for each move.
    ///     Nothing in it changes.
    ///   - gated: a cell the gate let this request serve a moment ago: a move within it is not
    ///     asked about again.
    ///   - gate: whether the worker serves a cell, from the shard it is given.
    public static func move(
        _ id: EntityID, to position: Position, claimedCell: CellID, in shard: inout Shard, afterReplay: Bool = false,
        gated: CellID? = nil, gate: (CellID, borrowing Shard) -> Gate
    ) -> Move {
        move(id, placed: shard.placement(ofEntity: id), to: position, claimedCell: claimedCell, in: &shard, afterReplay: afterReplay,
             gated: gated, gate: gate)
    }

    /// The same for a caller that has looked the entity up already: `placed` is its cell and
    /// kind in memory (nil: memory does not hold it).
    public static func move(
        _ id: EntityID, placed entity: (cell: CellID, kind: EntityKind)?, to position: Position, claimedCell: CellID, in shard: inout Shard,
        afterReplay: Bool = false, gated: CellID? = nil, gate: (CellID, borrowing Shard) -> Gate
    ) -> Move {
        let from = entity?.cell ?? claimedCell
        let target = try? shard.settings.grid.cell(at: position)
        // An NPC in an inactive cell has its events queued there, so its move waits in the same
        // queue: handing it off now would leave those events behind (rejected at replay, after
        // they were acknowledged). A player activates its cell and moves at once.
        let movesNow: Bool
        if let entity, !afterReplay {
            movesNow = entity.kind == .player || shard.phase(of: entity.cell)?.isActive == true
            if !movesNow, let target, target != entity.cell, shard.ownership.map({ !$0.owns(target) }) ?? false {
                return .replayFirst(cell: entity.cell)
            }
        } else if let entity {
            // The replay may have moved it into an active cell, or emptied its queue.
            let phase = shard.phase(of: entity.cell)
            movesNow = phase?.isActive == true || (phase == .resident && !shard.hasQueuedEvents(for: id, in: entity.cell))
        } else {
            movesNow = false
        }
        guard movesNow, let target else { return .apply(cell: from) }
        if target == gated { return .apply(cell: from) }  // the gate just let this request serve that cell
        switch gate(target, shard) {
        case .serve:
            return .apply(cell: from)
        case .wait(let why):
            return .retry(why)
        case .redirect(let worker):
            do {
                _ = try position.validated()
            } catch {
                return .invalid(error)
            }
            if shard.hasUnsavedReplay(of: id) {
                return .saveReplaysFirst("entity \(id.raw): saving its replayed events before the handoff, retry")
            }
            return .handoff(worker: worker, cell: target)
        }
    }
}
