import Testing
@testable import WorldCore

/// Every limit under `limits:` refuses what passes it, names its cluster.yml key, and changes nothing.
@Suite struct InputLimitTests {
    static let limits = InputLimits(statsPerEntity: 4, keyBytes: 8, valueBytes: 16, eventPayloadBytes: 32, cellStateKeys: 3)

    func harness() throws -> Harness {
        var h = Harness(limits: Self.limits)
        try h.spawn(1, .player, at: 2, 2, stats: ["hp": 100])
        return h
    }

    static func key(_ error: WorldError?) -> String? {
        if case let .overLimit(_, _, key, _)? = error { key } else { nil }
    }

    @Test func aSpawnWithTooManyStatsOrTooLongANameIsRefused() throws {
        var h = try harness()
        let many = Dictionary(uniqueKeysWithValues: (0..<5).map { ("s\($0)", 1.0) })
        #expect(Self.key(thrown { try h.spawn(2, .npc, at: 2, 2, stats: many) }) == "max_stats_per_entity")
        #expect(Self.key(thrown { try h.spawn(3, .npc, at: 2, 2, stats: ["a-very-long-name": 1]) }) == "max_key_bytes")
        #expect(h.shard.entity(EntityID(2)) == nil && h.shard.entity(EntityID(3)) == nil)
        let error = thrown { try h.spawn(2, .npc, at: 2, 2, stats: many) }
        #expect(error?.description.contains("limits.max_stats_per_entity") == true)
    }

    @Test func anActionMayNotGrowAnEntityPastItsStatLimit() throws {
        var h = try harness()
        try h.act(1, in: Harness.cell(2, 2), ["gold": 1, "xp": 2, "mana": 3])  // 4 stats: at the limit
        // Changing the stats it has is fine; a fifth one is not, and nothing of the action applies.
        try h.act(1, in: Harness.cell(2, 2), ["gold": 1, "xp": 1])
        #expect(Self.key(thrown { try h.act(1, in: Harness.cell(2, 2), ["gold": 1, "wood": 1]) }) == "max_stats_per_entity")
        let entity = try #require(h.shard.entity(EntityID(1)))
        #expect(entity.stats == ["hp": 100, "gold": 2, "xp": 3, "mana": 3])
        #expect(entity.actions == 2)
        #expect(Self.key(thrown { try h.manager.apply(.entityAction(EntityID(1), action: "a-very-long-action", deltas: [:]),
                                                    to: Harness.cell(2, 2), now: h.now) }) == "max_key_bytes")
    }

    @Test func cellStateKeysValuesAndWorldEventPayloadsAreBounded() throws {
        var h = try harness()
        let cell = Harness.cell(2, 2)
        func change(_ set: [String: String], remove: [String] = []) throws {
            _ = try h.manager.apply(.cellStateChange(set: set, remove: remove), to: cell, now: h.now)
        }
        try change(["a": "1", "b": "2", "c": "3"])
        #expect(Self.key(thrown { try change(["d": "4"]) }) == "max_cell_state_keys")
        try change(["d": "4"], remove: ["a"])  // replaces one: still three
        try change(["b": "22"])  // overwrites: still three
        #expect(Self.key(thrown { try change(["e": String(repeating: "x", count: 17)], remove: ["b"]) }) == "max_value_bytes")
        #expect(try h.manager.cell(cell, now: h.now).properties == ["b": "22", "c": "3", "d": "4"])
        _ = try h.manager.apply(.worldEvent(name: "rain", payload: Array(repeating: 1, count: 32)), to: cell, now: h.now)
        #expect(Self.key(thrown { _ = try h.manager.apply(.worldEvent(name: "rain", payload: Array(repeating: 1, count: 33)), to: cell, now: h.now) })
            == "max_event_payload_bytes")
        // An inactive cell's queue takes nothing over a limit either.
        let far = Harness.cell(9, 9)
        #expect(Self.key(thrown { _ = try h.manager.apply(.worldEvent(name: "storm", payload: Array(repeating: 1, count: 33)), to: far, now: h.now) })
            == "max_event_payload_bytes")
        #expect(h.shard.queuedEvents(in: far).isEmpty)
    }
}

/// Epochs, versions, counters and sequences that have no successor are refused with an error
/// naming them, never a trap (see `Counter`).
@Suite struct CounterTests {
    let t0 = ContinuousClock.now

    func shard(holding entity: Entity) -> Shard {
        var shard = Shard(settings: ShardSettings(grid: Harness.grid, activeRadius: 1))
        shard.adoptEntity(entity, now: t0)
        _ = shard.takeActions()
        return shard
    }

    static func npc(version: UInt64 = 1, actions: UInt64 = 0, epoch: UInt64 = 1) -> Entity {
        Entity(id: EntityID(9), kind: .player, position: Harness.center(3, 3), cell: Harness.cell(3, 3),
               version: version, actions: actions, ownerEpoch: epoch)
    }

    @Test func counterStepsStopAtTheLargestStorableValue() {
        #expect(Counter.next(0) == 1)
        #expect(Counter.next(Counter.max - 1) == Counter.max)
        #expect(Counter.next(Counter.max) == nil)
        #expect(Counter.next(.max) == nil)
        #expect(Counter.stored(-1) == nil)
        #expect(Counter.stored(Int64.max) == Counter.max)
    }

    @Test func anEntityAtTheLastVersionOrActionCountIsRefusedNotTrapped() throws {
        for entity in [Self.npc(version: Counter.max), Self.npc(version: .max), Self.npc(actions: .max)] {
            var shard = shard(holding: entity)
            let cell = Harness.cell(3, 3)
            let act = thrown { _ = try shard.apply(.entityAction(EntityID(9), action: "hit", deltas: ["hp": -1]), to: cell, now: t0) }
            guard case .counterExhausted(let what)? = act else { Issue.record("action: \(String(describing: act))"); continue }
            #expect(what.contains("entity 9"))
            if entity.version >= Counter.max {
                let move = thrown { _ = try shard.apply(.entityMove(EntityID(9), to: Harness.center(3, 4)), to: cell, now: t0) }
                #expect(move?.description.contains("has no successor") == true)
            }
            #expect(shard.entity(EntityID(9)) == entity)  // unchanged
        }
    }

    @Test func aSpawnCarryingCountersWithNoSuccessorIsRefused() {
        var shard = Shard(settings: ShardSettings(grid: Harness.grid, activeRadius: 1))
        let error = thrown { _ = try shard.apply(.entitySpawn(Self.npc(epoch: .max)), to: Harness.cell(3, 3), now: t0) }
        #expect(error?.description.contains("owner_epoch 18446744073709551615") == true)
        #expect(shard.entity(EntityID(9)) == nil)
    }

    @Test func handoffsRefuseOffersAndMovesWhoseEpochHasNoSuccessor() throws {
        typealias H = Handoffs<String>
        // The source: an entity at the last owner epoch does not start a handoff; its move is told why.
        var source = H(firstID: 1)
        let stuck = shard(holding: Self.npc(epoch: Counter.max))
        let started = source.start(EntityID(9), to: Harness.center(4, 3), cell: Harness.cell(4, 3), target: "B", reply: "move",
                                   shard: stuck, now: t0)
        guard case .retry(_, let why)? = started.first else { Issue.record("\(started)"); return }
        #expect(why.contains("owner_epoch"))
        #expect(source.isIdle)
        // The target: offers with an epoch (or an entity counter) that has no successor are refused, unclaimed.
        var target = H(firstID: 100)
        var empty = Shard(settings: ShardSettings(grid: Harness.grid, activeRadius: 1))
        for (epoch, entity) in [(UInt64.max, Self.npc()), (Counter.max, Self.npc()), (1, Self.npc(version: .max)), (1, Self.npc(actions: Counter.max))] {
            let offer = H.Offer(handoffID: 5, entity: entity, sourceWorker: "A", sourceEpoch: epoch, sourceLease: 1, reply: "offer")
            let actions = target.offered(offer, serves: true, shard: &empty, now: t0)
            guard case .refuse(_, .invalid, let why)? = actions.first else { Issue.record("\(actions)"); continue }
            #expect(why.contains("no successor"))
        }
        #expect(target.isIdle && empty.entity(EntityID(9)) == nil)
    }

    @Test func aQueueWhoseSequenceHasNoSuccessorRefusesTheEvent() {
        var shard = Shard(settings: ShardSettings(grid: Harness.grid, activeRadius: 1), firstSequence: Counter.max)
        let error = thrown { _ = try shard.apply(.worldEvent(name: "rain", payload: []), to: Harness.cell(8, 8), now: t0) }
        #expect(error?.description.contains("event sequence") == true)
    }
}
