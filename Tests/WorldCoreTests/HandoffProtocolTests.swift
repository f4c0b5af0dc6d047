import Testing
@testable import WorldCore

/// The handoff protocol driven step by step: two workers (a `Handoffs` and a `Shard` each), an
/// arbiter that plays storage's conditional claim, and a crash of either side at every step.
@Suite struct HandoffProtocolTests {
    typealias H = Handoffs<String>

    /// Storage's part: the owner epoch of each entity, taken by one conditional claim.
    struct Arbiter {
        var epochs: [EntityID: UInt64] = [:]
        var rows: [EntityID: Entity] = [:]
        /// Leases that are gone (their workers failed over).
        var fencedLeases: Set<Int64> = []

        mutating func claim(_ entity: Entity, expected: UInt64, source: (worker: String, lease: Int64)?) -> H.ClaimResult {
            if let source, fencedLeases.contains(source.lease) { return .sourceFenced }
            let stored = epochs[entity.id] ?? 0
            if stored == expected + 1, rows[entity.id]?.version == entity.version, rows[entity.id]?.cell == entity.cell { return .alreadyClaimed }
            guard stored == expected || epochs[entity.id] == nil else { return .lost(epoch: stored) }
            epochs[entity.id] = expected + 1
            var row = entity
            row.ownerEpoch = expected + 1
            rows[entity.id] = row
            return .won
        }
    }

    /// One worker: its protocol state, its memory, and what it has sent or answered.
    struct Node {
        let name: String
        var handoffs: H
        var shard: Shard
        var outbox: [H.Action] = []

        init(_ name: String, firstID: UInt64) {
            self.name = name
            handoffs = H(firstID: firstID)
            shard = Shard(settings: ShardSettings(grid: Harness.grid, activeRadius: 0))
        }

        /// Crashed and started again: memory is empty.
        mutating func restart() {
            handoffs = H(firstID: handoffs.nextHandoffID)
            shard = Shard(settings: ShardSettings(grid: Harness.grid, activeRadius: 0))
            outbox = []
        }

        var replies: [String] {
            outbox.compactMap {
                switch $0 {
                case .moved(let r, let version, let target): "\(r): moved v\(version) to \(target)"
                case .retry(let r, _): "\(r): retry"
                default: nil
                }
            }
        }
    }

    let t0 = ContinuousClock.now
    static let id = EntityID(7)
    static let a = Harness.cell(4, 5), b = Harness.cell(5, 5)

    /// Worker A holds entity 7 in cell a at owner epoch 3, stored so; B is the target.
    func world() -> (Node, Node, Arbiter) {
        var source = Node("A", firstID: 100), target = Node("B", firstID: 200)
        let entity = Entity(id: Self.id, kind: .npc, position: Harness.center(4, 5), cell: Self.a, version: 10, ownerEpoch: 3)
        source.shard.adoptEntity(entity, now: t0)
        var arbiter = Arbiter()
        arbiter.epochs[Self.id] = 3
        arbiter.rows[Self.id] = entity
        _ = target.shard.takeActions()
        _ = source.shard.takeActions()
        return (source, target, arbiter)
    }

    static func offer(in actions: [H.Action], from source: String, reply: String) -> H.Offer? {
        for case let .offer(_, handoffID, entity, epoch) in actions {
            return H.Offer(handoffID: handoffID, entity: entity, sourceWorker: source, sourceEpoch: epoch, sourceLease: 1, reply: reply)
        }
        return nil
    }

    static func claims(_ actions: [H.Action]) -> [(Entity, UInt64, (worker: String, lease: Int64)?, H.Claim)] {
        actions.compactMap { if case let .claim(e, expected, source, claim) = $0 { (e, expected, source, claim) } else { nil } }
    }

    static func accepted(_ actions: [H.Action]) -> UInt64? {
        for case let .accept(_, epoch) in actions { return epoch }
        return nil
    }

    /// Who holds the entity in memory, by worker name.
    static func holders(_ nodes: Node...) -> [String] { nodes.filter { $0.shard.entity(id) != nil }.map(\.name) }

    @Test func aHandoffThatCompletes() throws {
        var (source, target, arbiter) = world()
        let started = source.handoffs.start(Self.id, to: Harness.center(5, 5), cell: Self.b, target: "B", reply: "move-1", shard: source.shard, now: t0)
        let offer = try #require(Self.offer(in: started, from: "A", reply: "offer-1"))
        #expect(offer.entity.version == 11 && offer.entity.cell == Self.b && offer.sourceEpoch == 3)
        #expect(source.handoffs.route(Self.id, in: source.shard, now: t0) == .frozen(target: "B"))

        let claim = try #require(Self.claims(target.handoffs.offered(offer, serves: true, shard: &target.shard, now: t0)).first)
        #expect(claim.2?.worker == "A")  // the target holds the source's lease in its claim
        let result = arbiter.claim(claim.0, expected: claim.1, source: claim.2)
        #expect(result == .won)
        let answer = target.handoffs.claimed(claim.3, result, shard: &target.shard, now: t0)
        #expect(Self.accepted(answer) == 4)
        #expect(target.shard.entity(Self.id)?.ownerEpoch == 4)

        source.outbox += source.handoffs.accepted(Self.id, handoffID: offer.handoffID, shard: &source.shard, now: t0)
        #expect(source.replies == ["move-1: moved v11 to B"])
        #expect(Self.holders(source, target) == ["B"])
        // Requests that still reach the source are redirected from memory for a while, then storage answers.
        #expect(source.handoffs.route(Self.id, in: source.shard, now: t0 + .seconds(1)) == .movedAway(worker: "B", cell: Self.b))
        #expect(source.handoffs.route(Self.id, in: source.shard, now: t0 + .seconds(3)) == nil)
        #expect(source.handoffs.isIdle && target.handoffs.isIdle)
        // The hints are bounded without lookups too: a tick past the hint's age lets them go.
        source.handoffs.movedAway[Self.id] = ("B", Self.b, t0)
        _ = source.handoffs.tick(shard: &source.shard, now: t0 + .seconds(3))
        #expect(source.handoffs.movedAway.isEmpty)
    }

    @Test func aTargetThatNeverAnswersLosesToTheSourcesOwnClaim() throws {
        var (source, _, arbiter) = world()
        _ = source.handoffs.start(Self.id, to: Harness.center(5, 5), cell: Self.b, target: "B", reply: "move-1", shard: source.shard, now: t0)
        #expect(Self.claims(source.handoffs.tick(shard: &source.shard, now: t0 + .seconds(1))).isEmpty)  // not yet
        let tick = source.handoffs.tick(shard: &source.shard, now: t0 + .seconds(2))
        let claim = try #require(Self.claims(tick).first)
        #expect(claim.1 == 3 && claim.2 == nil && claim.0.version == 10)  // its own state, as held here
        // While the claim is in storage, no second one goes out.
        #expect(Self.claims(source.handoffs.tick(shard: &source.shard, now: t0 + .seconds(3))).isEmpty)
        source.outbox += source.handoffs.claimed(claim.3, arbiter.claim(claim.0, expected: claim.1, source: nil), shard: &source.shard, now: t0)
        #expect(source.replies == ["move-1: retry"])
        #expect(source.shard.entity(Self.id)?.ownerEpoch == 4)  // it stays, under the epoch it won
        #expect(arbiter.epochs[Self.id] == 4)
        #expect(source.handoffs.route(Self.id, in: source.shard, now: t0) == nil)
    }

    @Test func aRefusalIsSettledInStorageAndAFailedSettlementWaitsBeforeTheNext() throws {
        var (source, _, arbiter) = world()
        let started = source.handoffs.start(Self.id, to: Harness.center(5, 5), cell: Self.b, target: "B", reply: "move-1", shard: source.shard, now: t0)
        let offer = try #require(Self.offer(in: started, from: "A", reply: "offer"))
        let refused = source.handoffs.refused(Self.id, handoffID: offer.handoffID, reason: "not served", shard: &source.shard, now: t0)
        let claim = try #require(Self.claims(refused).first)
        // Storage is down: it stays frozen, and the next claim waits a moment.
        _ = source.handoffs.claimed(claim.3, .failed("connection refused"), shard: &source.shard, now: t0 + .seconds(2))
        #expect(source.handoffs.route(Self.id, in: source.shard, now: t0) == .frozen(target: "B"))
        #expect(Self.claims(source.handoffs.tick(shard: &source.shard, now: t0 + .milliseconds(2100))).isEmpty)
        let again = try #require(Self.claims(source.handoffs.tick(shard: &source.shard, now: t0 + .milliseconds(2300))).first)
        source.outbox += source.handoffs.claimed(again.3, arbiter.claim(again.0, expected: again.1, source: nil), shard: &source.shard, now: t0)
        #expect(source.replies == ["move-1: retry"])
        #expect(Self.holders(source) == ["A"])
    }

    /// The crash points of the protocol, on either side. After each, the survivors (and a
    /// restarted worker, which holds nothing until it loads from storage) hold the entity once,
    /// and storage's owner epoch names the one that holds it.
    enum Crash: CaseIterable { case sourceBeforeSend, targetAfterReceive, targetAfterCommit, sourceAfterAck }

    @Test(arguments: Crash.allCases) func aCrashAtAnyStepLeavesExactlyOneOwner(_ crash: Crash) throws {
        var (source, target, arbiter) = world()
        let started = source.handoffs.start(Self.id, to: Harness.center(5, 5), cell: Self.b, target: "B", reply: "move", shard: source.shard, now: t0)
        let offer = try #require(Self.offer(in: started, from: "A", reply: "offer"))
        if crash == .sourceBeforeSend {
            source.restart()
            // Storage still names epoch 3 with the source's last saved state; the restarted
            // source loads it with its cell. Nobody else holds it.
            source.shard.adoptEntity(arbiter.rows[Self.id]!, now: t0)
            #expect(Self.holders(source, target) == ["A"])
            return
        }
        let offered = target.handoffs.offered(offer, serves: true, shard: &target.shard, now: t0)
        if crash == .targetAfterReceive {
            target.restart()
            // The source hears nothing, settles after the timeout, and wins.
            let claim = try #require(Self.claims(source.handoffs.tick(shard: &source.shard, now: t0 + .seconds(2))).first)
            _ = source.handoffs.claimed(claim.3, arbiter.claim(claim.0, expected: claim.1, source: nil), shard: &source.shard, now: t0)
            #expect(Self.holders(source, target) == ["A"])
            #expect(arbiter.epochs[Self.id] == 4 && source.shard.entity(Self.id)?.ownerEpoch == 4)
            return
        }
        let claim = try #require(Self.claims(offered).first)
        let result = arbiter.claim(claim.0, expected: claim.1, source: claim.2)
        let answer = target.handoffs.claimed(claim.3, result, shard: &target.shard, now: t0)
        #expect(Self.accepted(answer) == 4)
        if crash == .targetAfterCommit {
            // The claim committed; the accept never left. The source's own claim loses, so the
            // handoff happened: it drops its copy. The restarted target loads the stored row.
            target.restart()
            let settle = try #require(Self.claims(source.handoffs.tick(shard: &source.shard, now: t0 + .seconds(2))).first)
            let lost = arbiter.claim(settle.0, expected: settle.1, source: nil)
            #expect(lost == .lost(epoch: 4))
            source.outbox += source.handoffs.claimed(settle.3, lost, shard: &source.shard, now: t0)
            #expect(source.replies == ["move: moved v11 to B"])
            target.shard.adoptEntity(arbiter.rows[Self.id]!, now: t0)
            #expect(Self.holders(source, target) == ["B"])
            #expect(target.shard.entity(Self.id)?.version == 11)
            return
        }
        // sourceAfterAck: the source completed and died before answering; the client's retry
        // finds the entity at the target, and the restarted source holds nothing.
        _ = source.handoffs.accepted(Self.id, handoffID: offer.handoffID, shard: &source.shard, now: t0)
        source.restart()
        #expect(Self.holders(source, target) == ["B"])
        #expect(arbiter.epochs[Self.id] == 4)
    }

    @Test func anOfferFromAFencedSourceIsRefused() throws {
        var (source, target, arbiter) = world()
        let started = source.handoffs.start(Self.id, to: Harness.center(5, 5), cell: Self.b, target: "B", reply: "move", shard: source.shard, now: t0)
        let offer = try #require(Self.offer(in: started, from: "A", reply: "offer"))
        arbiter.fencedLeases = [1]  // A was paused past its lease and failed over meanwhile
        let claim = try #require(Self.claims(target.handoffs.offered(offer, serves: true, shard: &target.shard, now: t0)).first)
        let answer = target.handoffs.claimed(claim.3, arbiter.claim(claim.0, expected: claim.1, source: claim.2), shard: &target.shard, now: t0)
        #expect(answer.contains { if case .refuse(_, .staleEpoch, _) = $0 { true } else { false } })
        #expect(Self.holders(target).isEmpty)
    }

    @Test func hostileOffersAreRefusedWithoutATrap() throws {
        var (_, target, _) = world()
        let maxEpoch = H.Offer(handoffID: 1, entity: Entity(id: Self.id, kind: .npc, position: Harness.center(5, 5), cell: Self.b),
                               sourceWorker: "X", sourceEpoch: UInt64.max, sourceLease: 0, reply: "offer")
        let refusal = target.handoffs.offered(maxEpoch, serves: true, shard: &target.shard, now: t0)
        #expect(refusal.contains { if case .refuse(_, .invalid, _) = $0 { true } else { false } })
        let elsewhere = target.handoffs.offered(maxEpoch, serves: false, shard: &target.shard, now: t0)
        #expect(elsewhere.contains { if case .refuse(_, .notServedHere, _) = $0 { true } else { false } })
        // A second offer of the same entity while the first one's claim runs.
        let first = H.Offer(handoffID: 2, entity: Entity(id: Self.id, kind: .npc, position: Harness.center(5, 5), cell: Self.b),
                            sourceWorker: "X", sourceEpoch: 5, sourceLease: 0, reply: "first")
        #expect(Self.claims(target.handoffs.offered(first, serves: true, shard: &target.shard, now: t0)).count == 1)
        let second = target.handoffs.offered(first, serves: true, shard: &target.shard, now: t0)
        #expect(second.contains { if case .refuse(_, .busy, _) = $0 { true } else { false } })
        // An entity at the highest version cannot be moved.
        var source = Node("A", firstID: 1)
        source.shard.adoptEntity(Entity(id: EntityID(9), kind: .npc, position: Harness.center(4, 5), cell: Self.a, version: UInt64.max), now: t0)
        let start = source.handoffs.start(EntityID(9), to: Harness.center(5, 5), cell: Self.b, target: "B", reply: "m", shard: source.shard, now: t0)
        #expect(start.contains { if case .retry = $0 { true } else { false } })
        // Nor one at the highest owner epoch: settling it would need the epoch after it.
        source.shard.adoptEntity(Entity(id: EntityID(10), kind: .npc, position: Harness.center(4, 5), cell: Self.a, ownerEpoch: UInt64.max), now: t0)
        let last = source.handoffs.start(EntityID(10), to: Harness.center(5, 5), cell: Self.b, target: "B", reply: "m", shard: source.shard, now: t0)
        #expect(last.contains { if case .retry = $0 { true } else { false } })
        #expect(source.handoffs.isIdle)
    }

    @Test func anEntityThatComesBackBeforeTheSourceHeardCompletesTheOldHandoff() throws {
        var (source, target, arbiter) = world()
        let started = source.handoffs.start(Self.id, to: Harness.center(5, 5), cell: Self.b, target: "B", reply: "move-1", shard: source.shard, now: t0)
        let offer = try #require(Self.offer(in: started, from: "A", reply: "offer-1"))
        let claim = try #require(Self.claims(target.handoffs.offered(offer, serves: true, shard: &target.shard, now: t0)).first)
        _ = target.handoffs.claimed(claim.3, arbiter.claim(claim.0, expected: claim.1, source: claim.2), shard: &target.shard, now: t0)
        // B's accept is slow; the entity already walks back: B offers it to A under epoch 4.
        let back = target.handoffs.start(Self.id, to: Harness.center(4, 5), cell: Self.a, target: "A", reply: "move-2", shard: target.shard, now: t0)
        let returning = try #require(Self.offer(in: back, from: "B", reply: "offer-2"))
        let taken = source.handoffs.offered(returning, serves: true, shard: &source.shard, now: t0)
        source.outbox += taken
        #expect(source.replies == ["move-1: moved v11 to B"])  // the first handoff is complete
        let reclaim = try #require(Self.claims(taken).first)
        let answer = source.handoffs.claimed(reclaim.3, arbiter.claim(reclaim.0, expected: reclaim.1, source: reclaim.2), shard: &source.shard, now: t0)
        #expect(Self.accepted(answer) == 5)
        target.outbox += target.handoffs.accepted(Self.id, handoffID: returning.handoffID, shard: &target.shard, now: t0)
        // B's late accept of the first offer changes nothing at A.
        #expect(source.handoffs.accepted(Self.id, handoffID: offer.handoffID, shard: &source.shard, now: t0).isEmpty)
        #expect(Self.holders(source, target) == ["A"])
        #expect(source.shard.entity(Self.id)?.ownerEpoch == 5 && arbiter.epochs[Self.id] == 5)
    }

    @Test func storageFailingOnTheTargetsClaimRefusesTheOfferAndTakesNothingIn() throws {
        var (source, target, _) = world()
        let started = source.handoffs.start(Self.id, to: Harness.center(5, 5), cell: Self.b, target: "B", reply: "move", shard: source.shard, now: t0)
        let offer = try #require(Self.offer(in: started, from: "A", reply: "offer"))
        let claim = try #require(Self.claims(target.handoffs.offered(offer, serves: true, shard: &target.shard, now: t0)).first)
        let answer = target.handoffs.claimed(claim.3, .failed("server closed the connection"), shard: &target.shard, now: t0)
        #expect(answer.contains { if case .refuse(_, .storageUnavailable, _) = $0 { true } else { false } })
        #expect(Self.holders(target).isEmpty && target.handoffs.isIdle)
        // A later offer of the same entity is claimed again (the failed one left no claim behind).
        #expect(Self.claims(target.handoffs.offered(offer, serves: true, shard: &target.shard, now: t0)).count == 1)
    }

    /// Session 4's 10-minute soak: between two refusals the entity left the source's memory (its
    /// cell evicted); settling took the missing entity for the target's win, told the client it
    /// moved and redirected it to a target that never had it. Now storage answers the retry.
    @Test func anEntityThatLeftMemoryBeforeItsHandoffSettledIsNotTakenForTheTargetsWin() throws {
        var (source, _, _) = world()
        let started = source.handoffs.start(Self.id, to: Harness.center(5, 5), cell: Self.b, target: "B", reply: "move", shard: source.shard, now: t0)
        let offer = try #require(Self.offer(in: started, from: "A", reply: "offer"))
        source.shard.dropEntity(Self.id, now: t0)  // evicted with its cell meanwhile
        source.outbox += source.handoffs.refused(Self.id, handoffID: offer.handoffID, reason: "busy", shard: &source.shard, now: t0)
        #expect(source.replies == ["move: retry"])
        #expect(Self.claims(source.outbox).isEmpty)
        #expect(source.handoffs.route(Self.id, in: source.shard, now: t0) == nil)  // no "moved away" redirect
    }

    /// Session 14's traced soak: a refused handoff's settling claim waited seconds in a busy
    /// storage thread; meanwhile the entity's cell left memory (evicted) and so was no longer
    /// frozen, a new map gave it away, its next owner loaded the stored row, and the claim then
    /// took the next epoch: two workers held the entity. The cell stays frozen, from the
    /// handoff's own record, until the claim is answered.
    @Test func aCellStaysFrozenWhileItsEntitysSettlingClaimIsInStorageEvenAfterTheEntityLeftMemory() throws {
        var (source, _, arbiter) = world()
        let started = source.handoffs.start(Self.id, to: Harness.center(5, 5), cell: Self.b, target: "B", reply: "move", shard: source.shard, now: t0)
        let offer = try #require(Self.offer(in: started, from: "A", reply: "offer"))
        #expect(source.handoffs.frozenCells == [Self.a])
        let refused = source.handoffs.refused(Self.id, handoffID: offer.handoffID, reason: "not served", shard: &source.shard, now: t0)
        let claim = try #require(Self.claims(refused).first)
        source.shard.dropEntity(Self.id, now: t0)  // its cell evicted while the claim is in storage
        #expect(source.handoffs.frozenCells == [Self.a])  // so cell a is not given away yet
        let result = arbiter.claim(claim.0, expected: claim.1, source: nil)
        #expect(result == .won)
        source.outbox += source.handoffs.claimed(claim.3, result, shard: &source.shard, now: t0)
        #expect(source.replies == ["move: retry"])
        #expect(source.handoffs.frozenCells.isEmpty)
        // Only now may cell a go: its next owner loads what storage holds then, the claim's row.
        #expect(arbiter.epochs[Self.id] == 4 && arbiter.rows[Self.id]?.cell == Self.a)
    }

    @Test func aClaimThatCompletesAfterTheCellChangedHandsLeavesTheEntityToStorage() throws {
        var (source, target, arbiter) = world()
        let started = source.handoffs.start(Self.id, to: Harness.center(5, 5), cell: Self.b, target: "B", reply: "move", shard: source.shard, now: t0)
        let offer = try #require(Self.offer(in: started, from: "A", reply: "offer"))
        let claim = try #require(Self.claims(target.handoffs.offered(offer, serves: true, shard: &target.shard, now: t0)).first)
        // A new map gave cell b to a third worker while the claim ran.
        let result = arbiter.claim(claim.0, expected: claim.1, source: claim.2)
        let answer = target.handoffs.claimed(claim.3, result, serves: false, shard: &target.shard, now: t0)
        #expect(Self.accepted(answer) == 4)  // the claim stands: the source lets go
        #expect(Self.holders(target).isEmpty)  // but the cell's owner loads it from storage
        #expect(arbiter.rows[Self.id]?.cell == Self.b && arbiter.epochs[Self.id] == 4)
    }
}
