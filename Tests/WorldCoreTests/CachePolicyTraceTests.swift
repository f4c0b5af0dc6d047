import Testing
@testable import WorldCore

@Suite struct CachePolicyTraceTests {
    @Test func aHandMadeTraceGivesTheExpectedHits() throws {
        let grid = try Grid(width: 10, height: 1, cellSize: 1)
        // One player with radius 0 walking 0 → 1 → 2 → 1 → 0, one step per second.
        let trace = AccessTrace(grid: grid, steps: [0, 1, 2, 1, 0].enumerated().map {
            AccessTrace.Step(time: .seconds($0.offset), cells: [CellID(Int64($0.element))])
        })
        let keepOne = EvictionPolicy(policies: [.lru], maxCells: 1, ttl: .seconds(100), maxEntities: .max)
        let keepThree = EvictionPolicy(policies: [.lru], maxCells: 3, ttl: .seconds(100), maxEntities: .max)
        let shortTTL = EvictionPolicy(policies: [.ttl], maxCells: 100, ttl: .milliseconds(1500), maxEntities: .max)
        #expect(CacheSimulator.run(trace, policy: keepOne).hits == 0)
        #expect(CacheSimulator.run(trace, policy: keepThree).hits == 2)  // cells 1 and 0 come back
        let ttl = CacheSimulator.run(trace, policy: shortTTL)
        #expect(ttl.hits == 1)  // cell 1 (idle 1 s) survives; cell 0 (idle 3 s) does not
        #expect(ttl.accesses == 5 && ttl.misses == 4)
    }

    @Test func policiesCompareOnAWalkingPlayersTrace() throws {
        let grid = try Grid(width: 64, height: 64, cellSize: 1)
        let trace = AccessTrace.walkingPlayers(grid: grid, players: 10, steps: 1500, radius: 2, seed: 7)
        let budget = 600
        let results: [(String, CacheSimulator.Result)] = [
            ("lru", CacheSimulator.run(trace, policy: .init(policies: [.lru], maxCells: budget, ttl: .seconds(3600), maxEntities: .max))),
            ("ttl", CacheSimulator.run(trace, policy: .init(policies: [.ttl], maxCells: budget, ttl: .seconds(30), maxEntities: .max))),
            ("size", CacheSimulator.run(trace, policy: .init(policies: [.size], maxCells: budget, ttl: .seconds(3600), maxEntities: budget * 4))),
            ("lru+ttl", CacheSimulator.run(trace, policy: .init(policies: [.lru, .ttl], maxCells: budget, ttl: .seconds(30), maxEntities: .max))),
        ]
        for (name, r) in results {
            #expect(r.accesses > 500, "\(name)")
            #expect(r.hits + r.misses == r.accesses, "\(name)")
            #expect(r.hitRate > 0 && r.hitRate < 1, "\(name): \(r.hitRate)")
        }
        // With one cell = four entities, SIZE at 4 x budget is LRU at budget: the same choices.
        #expect(results[0].1 == results[2].1)
        // A budget only ever removes cells that TTL alone would keep: LRU+TTL never beats TTL.
        #expect(results[3].1.hits <= results[1].1.hits)
        #expect(results[0].1.peakResident <= budget + 25 * 10)
        // Same seed, same trace, same answer.
        let again = AccessTrace.walkingPlayers(grid: grid, players: 10, steps: 1500, radius: 2, seed: 7)
        #expect(CacheSimulator.run(again, policy: .init(policies: [.lru], maxCells: budget, ttl: .seconds(3600), maxEntities: .max)) == results[0].1)
    }
}
