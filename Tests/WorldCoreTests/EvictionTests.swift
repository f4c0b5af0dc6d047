import Testing
@testable import WorldCore

@Suite struct EvictionTests {
    static let t0 = ContinuousClock.now
    static func candidate(_ cell: Int64, ageSeconds: Int, entities: Int = 1) -> EvictionPolicy.Candidate {
        EvictionPolicy.Candidate(cell: CellID(cell), lastAccess: t0 + .seconds(100 - ageSeconds), entities: entities)
    }
    static let now = t0 + .seconds(100)
    static let candidates = [candidate(1, ageSeconds: 5, entities: 10), candidate(2, ageSeconds: 50, entities: 1),
                             candidate(3, ageSeconds: 20, entities: 30), candidate(4, ageSeconds: 1, entities: 2)]

    @Test func lruEvictsTheLeastRecentlyUsedDownToTheLimit() {
        let lru = EvictionPolicy(policies: [.lru], maxCells: 8, ttl: .seconds(1000), maxEntities: .max)
        #expect(lru.choose(Self.candidates, residentCells: 10, residentEntities: 0, now: Self.now) == [CellID(2), CellID(3)])
        #expect(lru.choose(Self.candidates, residentCells: 8, residentEntities: 0, now: Self.now) == [])
    }

    @Test func ttlEvictsEveryCellIdleLongerThanTheTTL() {
        let ttl = EvictionPolicy(policies: [.ttl], maxCells: 1, ttl: .seconds(10), maxEntities: 1)
        #expect(ttl.choose(Self.candidates, residentCells: 100, residentEntities: 100, now: Self.now) == [CellID(2), CellID(3)])
    }

    @Test func sizeEvictsLeastRecentlyUsedUntilTheEntitiesFit() {
        let size = EvictionPolicy(policies: [.size], maxCells: 1, ttl: .seconds(1000), maxEntities: 60)
        // 100 entities resident: drop cell 2 (1) → 99, cell 3 (30) → 69, cell 1 (10) → 59 ≤ 60.
        #expect(size.choose(Self.candidates, residentCells: 100, residentEntities: 100, now: Self.now) == [CellID(2), CellID(3), CellID(1)])
    }

    @Test func combinedPoliciesEvictWhenAnySaysSo() {
        let both = EvictionPolicy(policies: [.lru, .ttl], maxCells: 9, ttl: .seconds(30), maxEntities: .max)
        // TTL takes cell 2 (50 s idle); LRU then wants one more: cell 3.
        #expect(both.choose(Self.candidates, residentCells: 11, residentEntities: 0, now: Self.now) == [CellID(2), CellID(3)])
    }

    @Test func theShardNeverEvictsUnsavedState() throws {
        let policy = EvictionPolicy(policies: [.lru], maxCells: 9, ttl: .seconds(3600), maxEntities: .max)
        var h = Harness(radius: 1, hysteresis: .milliseconds(10), eviction: policy)
        try h.spawn(1, .player, at: 1, 1)
        try h.spawn(2, .npc, at: 1, 1, stats: ["hp": 5])
        try h.act(2, in: Harness.cell(1, 1), ["hp": 1])
        // Walk far away: the old window must go (only 9 cells allowed), but it holds unsaved changes.
        try h.move(1, to: 5, 5, from: Harness.cell(1, 1))
        h.advance(.milliseconds(20))
        h.advance(.milliseconds(20))
        #expect(h.shard.entity(EntityID(2))?.stats["hp"] == 6)  // still in memory
        #expect(h.shard.phase(of: Harness.cell(1, 1)) == .resident)
        let notices = h.manager.takeNotices()
        #expect(notices.contains { if case .checkpointSoon(.evictionWaiting) = $0 { true } else { false } })

        // A failed checkpoint changes nothing: still not evicted.
        h.store.failing = true
        let saved1 = h.manager.checkpoint(now: h.now)
        #expect(!saved1)
        h.advance(.milliseconds(20))
        #expect(h.shard.entity(EntityID(2)) != nil)

        // Once saved, it goes, and storage has the latest state.
        h.store.failing = false
        let saved2 = h.manager.checkpoint(now: h.now)
        #expect(saved2)
        h.advance(.milliseconds(20))
        #expect(h.shard.phase(of: Harness.cell(1, 1)) == nil)
        #expect(h.shard.entity(EntityID(2)) == nil)
        #expect(h.store.entities[EntityID(2)]?.stats["hp"] == 6)
        #expect(h.shard.loadedCells.count <= 9 + 9)
    }

    @Test func anEvictedCellComesBackFromStorage() throws {
        let policy = EvictionPolicy(policies: [.ttl], maxCells: 1000, ttl: .seconds(5), maxEntities: .max)
        var h = Harness(radius: 0, hysteresis: .milliseconds(10), eviction: policy)
        try h.spawn(1, .player, at: 0, 0)
        try h.spawn(2, .object, at: 0, 0, stats: ["weight": 3])
        let saved3 = h.manager.checkpoint(now: h.now)
        #expect(saved3)
        try h.move(1, to: 9, 9)
        h.advance(.seconds(1))
        #expect(h.shard.phase(of: Harness.cell(0, 0)) == .resident)
        h.advance(.seconds(5))
        #expect(h.shard.phase(of: Harness.cell(0, 0)) == nil)
        try h.move(1, to: 0, 0)
        #expect(h.shard.entity(EntityID(2))?.stats["weight"] == 3)
    }
    /// The cell an entity frozen in a handoff is leaving is pinned by the worker: the policy
    /// passes it over until the pin goes.
    @Test func aPinnedCellStaysWhateverThePolicySays() throws {
        let policy = EvictionPolicy(policies: [.ttl], maxCells: 1000, ttl: .seconds(5), maxEntities: .max)
        var shard = Shard(settings: ShardSettings(grid: Harness.grid, activeRadius: 0, hysteresis: .milliseconds(10), eviction: policy))
        let t0 = ContinuousClock.now
        func settle(_ now: ContinuousClock.Instant) {
            for case let .load(cell) in shard.takeActions() { shard.cellLoaded(CellCheckpoint(cell: cell), now: now) }
        }
        let player = Entity(id: EntityID(1), kind: .player, position: Harness.center(0, 0), cell: Harness.cell(0, 0))
        let object = Entity(id: EntityID(2), kind: .object, position: Harness.center(0, 0), cell: Harness.cell(0, 0))
        _ = try shard.apply(.entitySpawn(player), to: Harness.cell(0, 0), now: t0)
        settle(t0)
        _ = try shard.apply(.entitySpawn(object), to: Harness.cell(0, 0), now: t0)
        let taken = shard.takeCheckpoint(now: t0)
        let batch = try #require(taken)
        shard.checkpointSucceeded(batch, duration: .zero, now: t0)
        _ = try shard.apply(.entityMove(EntityID(1), to: Harness.center(9, 9)), to: Harness.cell(0, 0), now: t0)
        settle(t0)
        shard.pinned = [Harness.cell(0, 0)]
        shard.tick(now: t0 + .seconds(1))
        shard.tick(now: t0 + .seconds(7))
        shard.tick(now: t0 + .seconds(20))
        #expect(shard.phase(of: Harness.cell(0, 0)) == .resident)
        #expect(shard.entity(EntityID(2)) != nil)
        shard.pinned = []
        shard.tick(now: t0 + .seconds(40))
        #expect(shard.phase(of: Harness.cell(0, 0)) == nil)
    }
}
