/// The entity handoff protocol, both sides, as a value: events in, actions out. No sockets, no
/// SQL, no clock reads: the shell sends offers and answers, runs the claims in storage, and feeds
/// back what came of them.
///
/// The protocol. A move into another worker's cell freezes the entity at the source and offers
/// its state (one version on, in the new cell) to the target. Storage arbitrates: whoever first
/// takes owner epoch `expected + 1` of the entity in one conditional statement owns it. The target
/// claims it (holding the source's lease), takes it in, and accepts; the source then drops its
/// copy and answers the move. If the target refuses, or does not answer within `timeout`, the
/// source claims the epoch itself: if it wins the entity stays; if the target won first, the
/// handoff happened. A worker killed at any step therefore leaves exactly one owner.
///
/// `Reply` is whatever the shell needs to answer a request later (a peer and an envelope).
public struct Handoffs<Reply: Sendable>: Sendable {
    /// An entity on its way to another worker, frozen here until the outcome is known.
    public struct Outgoing: Sendable {
        public let handoffID: UInt64
        /// The entity as it will be after the move (in the target's cell, one version on).
        public let moved: Entity
        /// The owner epoch it is held under here; the winner of epoch `expected + 1` owns it next.
        public let expected: UInt64
        public let target: String
        /// The cell it is leaving: stays here, unevicted and not given away, until the handoff
        /// settles (even when the entity itself has left memory meanwhile).
        public let from: CellID
        public let started: ContinuousClock.Instant
        /// The move request, answered when the outcome is known.
        public let reply: Reply
        /// True while this worker's own claim (settling the outcome) is in storage.
        public internal(set) var settling = false
        /// After a failed settling claim: not again before this.
        var notBefore: ContinuousClock.Instant?
    }

    /// What a claim is for, handed back with its result.
    public enum Claim: Sendable {
        /// The target's claim of an offered entity.
        case offered(Offer)
        /// The source's own claim, settling a handoff the target did not confirm.
        case settle(EntityID, handoffID: UInt64)
    }

    /// An offer as the target received it.
    public struct Offer: Sendable {
        public let handoffID: UInt64
        public let entity: Entity
        public let sourceWorker: String
        public let sourceEpoch: UInt64
        /// The lease generation the source offered under (0: none).
        public let sourceLease: Int64
        public let reply: Reply

        public init(handoffID: UInt64, entity: Entity, sourceWorker: String, sourceEpoch: UInt64, sourceLease: Int64, reply: Reply) {
            self.handoffID = handoffID
            self.entity = entity
            self.sourceWorker = sourceWorker
            self.sourceEpoch = sourceEpoch
            self.sourceLease = sourceLease
            self.reply = reply
        }
    }

    /// What storage answered a claim.
    public enum ClaimResult: Sendable, Equatable {
        case won
        /// An identical earlier claim took the epoch (a resent offer).
        case alreadyClaimed
        /// Someone else holds the entity at this epoch.
        case lost(epoch: UInt64)
        /// The offer's source no longer holds its lease (its cells failed over).
        case sourceFenced
        /// The statement did not run: the outcome is unknown.
        case failed(String)
    }

    /// Why an offer is refused.
    public enum Refusal: Sendable, Equatable {
        case invalid, notServedHere, busy, staleEpoch, storageUnavailable
    }

    public enum Action: Sendable {
        /// Send the offer to the target worker.
        case offer(to: String, handoffID: UInt64, entity: Entity, sourceEpoch: UInt64)
        /// Claim owner epoch `expected + 1` of `entity` in storage (holding `sourceLease` of
        /// `sourceWorker` when given), then call `claimed`.
        case claim(Entity, expected: UInt64, source: (worker: String, lease: Int64)?, for: Claim)
        /// Answer the move: the target owns the entity now.
        case moved(Reply, version: UInt64, target: String)
        /// Answer the move: it did not happen (or is not known yet); the client retries.
        case retry(Reply, String)
        /// Answer the offer: taken in under `epoch`.
        case accept(Offer, epoch: UInt64)
        /// Answer the offer: refused.
        case refuse(Offer, Refusal, String)
        /// A line for the entity's trace.
        case trace(EntityID, String)
        /// Something an operator should see.
        case warn(String)
    }

    /// Where requests about an entity go while it moves (see `route`).
    public enum Route: Sendable, Equatable {
        /// Frozen in a handoff to `target`: the client retries.
        case frozen(target: String)
        /// Handed to `worker`'s cell `cell` moments ago: redirect without asking storage.
        case movedAway(worker: String, cell: CellID)
    }

    /// How long the source waits for the target before it settles the handoff in storage.
    public let timeout: Duration
    /// How long a handed-away entity's requests are redirected from memory; after that storage
    /// answers (the entity may come back by another road, its new cell given to this worker).
    public let movedAwayHint: Duration
    /// How long a failed settling claim waits before the next.
    public let retryPause: Duration = .milliseconds(200)

    public private(set) var outgoing: [EntityID: Outgoing] = [:]
    @usableFromInline var movedAway: [EntityID: (worker: String, cell: CellID, at: ContinuousClock.Instant)] = [:]
    /// Offered entities whose claim is in storage here.
    private var claiming: Set<EntityID> = []
    /// When `tick` next prunes `movedAway`.
    private var nextPrune: ContinuousClock.Instant?
    private var nextID: UInt64

    /// - Parameter firstID: the first handoff id; give each incarnation its own range.
    public init(firstID: UInt64, timeout: Duration = .seconds(2), movedAwayHint: Duration = .seconds(2)) {
        nextID = firstID
        self.timeout = timeout
        self.movedAwayHint = movedAwayHint
    }

    /// The id the next handoff from here gets.
    public var nextHandoffID: UInt64 { nextID }

    /// True when nothing is under way.
    public var isIdle: Bool { outgoing.isEmpty && claiming.isEmpty }

    /// The cells that entities frozen in outgoing handoffs are leaving: they stay here until the
    /// handoff settles. Taken from the handoff, not from memory: an entity that left memory while
    /// its handoff (or this worker's settling claim) was in flight must still keep its cell here,
    /// or the cell's next owner could load the row that claim is about to replace, and two
    /// workers would hold the entity.
    public var frozenCells: Set<CellID> { Set(outgoing.values.map(\.from)) }

    /// Where a request about `id` goes while it is moving, or nil when it is served as usual.
    public mutating func route(_ id: EntityID, in shard: Shard, now: ContinuousClock.Instant) -> Route? {
        route(id, held: shard.entity(id) != nil, now: now)
    }

    /// Whether `route` may say anything about `id`: it is frozen here, or it is not held and a
    /// hint of where it went may be kept. False for nearly every request, at the cost of one or
    /// two lookups (and none when nothing is moving or has moved). Inlinable: specialised where
    /// it is called, it needs no generic metadata looked up at run time on every request.
    @inlinable
    public func mayRoute(_ id: EntityID, held: Bool) -> Bool {
        (!outgoing.isEmpty && outgoing[id] != nil) || (!held && !movedAway.isEmpty)
    }

    /// The same, told whether memory holds the entity (the request path passes that rather than
    /// the shard, which a call would copy: every one of its collections retained and released).
    public mutating func route(_ id: EntityID, held: Bool, now: ContinuousClock.Instant) -> Route? {
        if let h = outgoing[id] { return .frozen(target: h.target) }
        guard !held, let away = movedAway[id] else { return nil }
        guard now - away.at < movedAwayHint else {
            movedAway[id] = nil
            return nil
        }
        return .movedAway(worker: away.worker, cell: away.cell)
    }

    /// Storage says where `id` is now: forget the hint.
    public mutating func forgetMovedAway(_ id: EntityID) { movedAway[id] = nil }

    // MARK: Source

    /// A move takes `id` into `cell` of worker `target`: freeze it and offer it there.
    /// - Returns: nothing when the entity is not in memory or already moving.
    public mutating func start(_ id: EntityID, to position: Position, cell: CellID, target: String, reply: Reply,
                               shard: Shard, now: ContinuousClock.Instant) -> [Action] {
        guard var entity = shard.entity(id), outgoing[id] == nil else { return [] }
        if let counter = entity.exhaustedCounter {
            return [.retry(reply, "entity \(id.raw) cannot move to another worker: its \(counter) has no successor (the largest is \(Counter.max))")]
        }
        let expected = entity.ownerEpoch
        let from = entity.cell
        entity.position = position
        entity.cell = cell
        entity.version += 1
        let handoffID = nextID
        nextID &+= 1
        outgoing[id] = Outgoing(handoffID: handoffID, moved: entity, expected: expected, target: target, from: from,
                               started: now, reply: reply)
        return [
            .offer(to: target, handoffID: handoffID, entity: entity, sourceEpoch: expected),
            .trace(id, "offered to \(target) in cell \(cell.raw) at v\(entity.version) e\(expected)"),
        ]
    }

    /// The target accepted offer `handoffID` of `id`.
    public mutating func accepted(_ id: EntityID, handoffID: UInt64, shard: inout Shard, now: ContinuousClock.Instant) -> [Action] {
        guard let h = outgoing[id], h.handoffID == handoffID else { return [] }
        return complete(h, shard: &shard, now: now)
    }

    /// The target refused offer `handoffID` of `id`: storage decides.
    public mutating func refused(_ id: EntityID, handoffID: UInt64, reason: String, shard: inout Shard, now: ContinuousClock.Instant) -> [Action] {
        guard let h = outgoing[id], h.handoffID == handoffID else { return [] }
        return [.trace(id, "handoff refused by \(h.target): \(reason)")] + settle(h, shard: &shard, now: now)
    }

    /// Time passes: handoffs whose target has not answered in time are settled in storage.
    /// The worker calls this on every turn while handoffs are out (thousands of times a second
    /// under load): only the due ones are sorted, and the moved-away hints, which `route`
    /// checks for age anyway, are pruned at most four times a second rather than rebuilt every
    /// turn (with no handoff out, a hint goes when it is next looked up).
    public mutating func tick(shard: inout Shard, now: ContinuousClock.Instant) -> [Action] {
        var due: [Outgoing] = []
        for h in outgoing.values where now - h.started >= timeout && h.notBefore.map({ now >= $0 }) ?? true { due.append(h) }
        var actions: [Action] = []
        if !due.isEmpty {
            due.sort { $0.handoffID < $1.handoffID }
            for h in due { actions += settle(h, shard: &shard, now: now) }
        }
        if !movedAway.isEmpty, nextPrune.map({ now >= $0 }) ?? true {
            movedAway = movedAway.filter { now - $0.value.at < movedAwayHint }
            nextPrune = now + .milliseconds(250)
        }
        return actions
    }

    /// The target owns the entity now: forget it here and answer the move.
    private mutating func complete(_ h: Outgoing, shard: inout Shard, now: ContinuousClock.Instant) -> [Action] {
        let id = h.moved.id
        outgoing[id] = nil
        var actions: [Action] = []
        if let held = shard.entity(id), held.ownerEpoch > h.expected {
            // Taken in again under a newer epoch meanwhile (it came back): that copy stays.
            actions.append(.trace(id, "handoff to \(h.target) complete; it came back meanwhile (e\(held.ownerEpoch))"))
        } else {
            actions.append(.trace(id, "handoff to \(h.target) complete: dropped here"))
            shard.dropEntity(id, now: now)
            movedAway[id] = (h.target, h.moved.cell, now)
        }
        actions.append(.moved(h.reply, version: h.moved.version, target: h.target))
        return actions
    }

    /// No answer in time, or a refusal: this worker claims the next epoch itself.
    private mutating func settle(_ h: Outgoing, shard: inout Shard, now: ContinuousClock.Instant) -> [Action] {
        let id = h.moved.id
        guard !h.settling else { return [] }  // its claim is in storage
        guard let current = shard.entity(id) else {
            // Gone from memory (its cell evicted, or a checkpoint found a newer owner stored and
            // dropped it). That is no proof the target won: storage knows, and answers the retry.
            outgoing[id] = nil
            return [
                .trace(id, "handoff to \(h.target) unsettled: no longer in memory here; storage answers the retry"),
                .retry(h.reply, "entity \(id.raw) is being handed off: retry the move"),
            ]
        }
        guard current.ownerEpoch <= h.expected else {
            return complete(h, shard: &shard, now: now)  // it came back under a newer epoch: the target won
        }
        outgoing[id]?.settling = true
        return [.claim(current, expected: h.expected, source: nil, for: .settle(id, handoffID: h.handoffID))]
    }

    /// Storage's answer to a claim this value asked for. `serves` says whether this worker still
    /// serves the offered entity's new cell (the map may have changed while the claim ran).
    public mutating func claimed(_ claim: Claim, _ result: ClaimResult, serves: Bool = true, shard: inout Shard,
                                 now: ContinuousClock.Instant) -> [Action] {
        switch claim {
        case .settle(let id, let handoffID): settled(id, handoffID: handoffID, result, shard: &shard, now: now)
        case .offered(let offer): offerClaimed(offer, result, serves: serves, shard: &shard, now: now)
        }
    }

    private mutating func settled(_ id: EntityID, handoffID: UInt64, _ result: ClaimResult, shard: inout Shard, now: ContinuousClock.Instant) -> [Action] {
        guard var h = outgoing[id], h.handoffID == handoffID else { return [] }  // the target's answer came first
        h.settling = false
        outgoing[id] = h
        switch result {
        case .won, .alreadyClaimed:
            outgoing[id] = nil
            guard shard.entity(id) != nil else {
                // Left memory while the claim ran: storage holds it under this worker.
                return [.retry(h.reply, "entity \(id.raw) is being handed off: retry the move")]
            }
            shard.setOwnerEpoch(id, h.expected + 1)
            return [
                .trace(id, "handoff to \(h.target) settled: stays here at e\(h.expected + 1)"),
                .retry(h.reply, "handing entity \(id.raw) to worker \(h.target) did not complete; it stays here: retry the move"),
            ]
        case .lost:
            return complete(h, shard: &shard, now: now)
        case .failed(let why):
            // Unknown: it stays frozen, and a later tick tries again.
            let until = now + retryPause  // not inline: the compiler sees it overlap the write to `outgoing`
            outgoing[id]?.notBefore = until
            return [.warn("cannot settle the handoff of entity \(id.raw) yet: \(why)")]
        case .sourceFenced:
            return []  // not asked for: this worker claims as its own source
        }
    }

    // MARK: Target

    /// An entity offered by another worker. `serves` says whether this worker serves the
    /// entity's new cell now (lease held, cell owned).
    public mutating func offered(_ offer: Offer, serves: Bool, shard: inout Shard, now: ContinuousClock.Instant) -> [Action] {
        let id = offer.entity.id
        guard serves else { return [.refuse(offer, .notServedHere, "this worker does not serve the entity's new cell now")] }
        guard offer.sourceEpoch < Counter.max else {
            return [.refuse(offer, .invalid, "offer: source epoch \(offer.sourceEpoch) has no successor (the largest is \(Counter.max))")]
        }
        if let counter = offer.entity.exhaustedCounter {
            return [.refuse(offer, .invalid, "offer: entity \(id.raw)'s \(counter) has no successor (the largest is \(Counter.max))")]
        }
        let next = offer.sourceEpoch + 1
        var actions: [Action] = []
        if let h = outgoing[id], offer.sourceEpoch > h.expected {
            // The entity comes back before this worker heard how its own handoff of it ended:
            // the offer's epoch proves that target won. That handoff is complete; the entity is
            // taken in again below.
            actions += complete(h, shard: &shard, now: now)
        }
        if let mine = shard.entity(id), mine.ownerEpoch >= next {
            return actions + [.accept(offer, epoch: mine.ownerEpoch)]  // a resent offer: already here
        }
        // One claim of an entity at a time: a second offer meanwhile is refused (its source
        // settles the outcome in storage itself).
        guard claiming.insert(id).inserted else {
            return actions + [.refuse(offer, .busy, "entity \(id.raw) is being claimed here already")]
        }
        let source = offer.sourceLease == 0 ? nil : (worker: offer.sourceWorker, lease: offer.sourceLease)
        return actions + [.claim(offer.entity, expected: offer.sourceEpoch, source: source, for: .offered(offer))]
    }

    private mutating func offerClaimed(_ offer: Offer, _ result: ClaimResult, serves: Bool, shard: inout Shard,
                                       now: ContinuousClock.Instant) -> [Action] {
        let id = offer.entity.id
        claiming.remove(id)
        let next = offer.sourceEpoch + 1
        switch result {
        case .won where !serves, .alreadyClaimed where !serves:
            // Stored under this worker's claim, in a cell another worker serves now: that worker
            // loads it from storage. Held here too, it would be a second copy.
            return [
                .trace(id, "claimed from \(offer.sourceWorker) at e\(next), but cell \(offer.entity.cell.raw) is no longer served here: storage holds it for the cell's owner"),
                .accept(offer, epoch: next),
            ]
        case .won, .alreadyClaimed:
            var adopted = offer.entity
            adopted.ownerEpoch = next
            movedAway[id] = nil
            var actions: [Action] = []
            if let old = shard.entity(id) {
                // A copy from before (a cell just given away, whose receiver moved the entity
                // back before this worker forgot it, or a load that raced the claim): the claim
                // made the offered state the stored truth, so it replaces the copy.
                if old.ownerEpoch < next {
                    actions.append(.trace(id, "handoff replaces an older copy: cell \(old.cell.raw) v\(old.version) e\(old.ownerEpoch)"))
                }
                shard.dropEntity(id, now: now)
            }
            shard.adoptEntity(adopted, now: now)
            return actions + [
                .trace(id, "claimed from \(offer.sourceWorker) into cell \(offer.entity.cell.raw) at v\(offer.entity.version) e\(next)"),
                .accept(offer, epoch: next),
            ]
        case .lost(let epoch):
            return [
                .trace(id, "offer from \(offer.sourceWorker) refused: held under e\(epoch), offered e\(offer.sourceEpoch)"),
                .refuse(offer, .staleEpoch, "entity \(id.raw) is held under epoch \(epoch), not \(offer.sourceEpoch)"),
            ]
        case .sourceFenced:
            return [
                .trace(id, "offer from \(offer.sourceWorker) refused: its lease \(offer.sourceLease) is gone"),
                .refuse(offer, .staleEpoch, "worker \(offer.sourceWorker) no longer holds lease generation \(offer.sourceLease): its cells failed over"),
            ]
        case .failed(let why):
            return [.refuse(offer, .storageUnavailable, "claiming entity \(id.raw): \(why)")]
        }
    }
}
