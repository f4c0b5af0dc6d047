import WorldCore

/// Cell activation, eviction, and the cache policies on a walking-players trace.
public enum CacheBench {
    /// Cells activated per second when a player teleports between regions of a stored world.
    public static func runActivation(cells: Int, entitiesPerCell: Int = 20) throws -> BenchReport {
        var report = BenchReport(benchmark: "activation", parameters: ["cells": "\(cells)", "entities_per_cell": "\(entitiesPerCell)"])
        let grid = try Grid(width: 6400, height: 6400, cellSize: 64)  // 100 x 100
        let store = InMemoryWorldStore()
        var id: UInt64 = 1_000_000
        for c in 0..<grid.cellCount {
            let coord = grid.coord(of: CellID(Int64(c)))
            for e in 0..<entitiesPerCell {
                let p = Position(x: Double(coord.column) * 64 + Double(e % 60) + 1, y: Double(coord.row) * 64 + 10)
                store.put(Entity(id: EntityID(id), kind: .npc, position: p, cell: CellID(Int64(c)), stats: ["hp": 100]))
                id += 1
            }
        }
        let settings = ShardSettings(grid: grid, activeRadius: 2, hysteresis: .zero, maxUnsavedChanges: 10_000_000,
                                     eviction: EvictionPolicy(policies: [.lru], maxCells: 100_000, ttl: .seconds(3600), maxEntities: 100_000_000))
        var manager = WorldManager(shard: Shard(settings: settings), store: store)
        var now = ContinuousClock.now
        let player = Entity(id: EntityID(1), kind: .player, position: Position(x: 160, y: 160), cell: try grid.cell(at: Position(x: 160, y: 160)))
        _ = try manager.apply(.entitySpawn(player), to: player.cell, now: now)
        var random = SeededRandom(seed: 9)
        let loadsBefore = store.reads
        let target = min(cells, grid.cellCount - 25)
        let deadline = ContinuousClock.now + .seconds(120)
        let elapsed = try measure {
            // Bounded: the target is below the grid's size, and there is a deadline.
            for _ in 0..<(target * 4) {
                if store.reads - loadsBefore >= target || ContinuousClock.now >= deadline { break }
                let to = Position(x: Double(random.next() % 6000) + 100, y: Double(random.next() % 6000) + 100)
                _ = try manager.apply(.entityMove(EntityID(1), to: to), to: player.cell, now: now)
                now += .milliseconds(1)
                manager.tick(now: now)
            }
        }
        let loaded = store.reads - loadsBefore
        report.add("cells activated from a loaded store", Double(loaded) / elapsed.seconds, "cells/s")
        report.add("entities installed", Double(loaded * entitiesPerCell) / elapsed.seconds, "entities/s")
        return report
    }

    /// Evictions per second of clean inactive cells.
    public static func runEviction(cells: Int) throws -> BenchReport {
        var report = BenchReport(benchmark: "eviction", parameters: ["cells": "\(cells)"])
        let side = Int(Double(cells).squareRoot().rounded(.up)) + 4
        let grid = try Grid(width: Double(side) * 10, height: Double(side) * 10, cellSize: 10)
        var shard = Shard(settings: ShardSettings(
            grid: grid, activeRadius: 0, hysteresis: .zero,
            eviction: EvictionPolicy(policies: [.lru], maxCells: 1, ttl: .seconds(3600), maxEntities: .max)))
        let now = ContinuousClock.now
        // Make `cells` cells resident and clean: an event for an absent entity loads each cell
        // without activating it; a checkpoint then saves the queued event.
        for c in 0..<cells {
            let cell = CellID(Int64(c))
            let coord = grid.coord(of: cell)
            let inside = Position(x: Double(coord.column) * 10 + 5, y: Double(coord.row) * 10 + 5)
            _ = try shard.apply(.entityMove(EntityID(UInt64(10_000_000 + c)), to: inside), to: cell, now: now)
            _ = shard.takeActions()
            shard.cellLoaded(CellCheckpoint(cell: cell, entities: [
                Entity(id: EntityID(UInt64(c + 1)), kind: .object, position: inside, cell: cell),
            ]), now: now)
        }
        if let batch = shard.takeCheckpoint(now: now) { shard.checkpointSucceeded(batch, duration: .zero, now: now) }
        let elapsed = measure { shard.tick(now: now + .seconds(1)) }
        let evicted = shard.monitorSnapshot(now: now).evictions
        report.add("cells evicted", Double(evicted), "cells")
        report.add("eviction rate", Double(evicted) / elapsed.seconds, "cells/s")
        return report
    }

    /// Hit rates of each policy on one seeded trace of players walking.
    public static func runPolicies(players: Int, steps: Int, budget: Int) throws -> BenchReport {
        var report = BenchReport(benchmark: "cache-policies", parameters: ["players": "\(players)", "steps": "\(steps)", "budget_cells": "\(budget)", "radius": "2"])
        let grid = try Grid(width: 128, height: 128, cellSize: 1)
        let trace = AccessTrace.walkingPlayers(grid: grid, players: players, steps: steps, radius: 2, seed: 2026)
        let ttl = Duration.seconds(30)
        let policies: [(String, EvictionPolicy)] = [
            ("lru", EvictionPolicy(policies: [.lru], maxCells: budget, ttl: ttl, maxEntities: .max)),
            ("ttl (30 s)", EvictionPolicy(policies: [.ttl], maxCells: budget, ttl: ttl, maxEntities: .max)),
            ("size", EvictionPolicy(policies: [.size], maxCells: budget, ttl: ttl, maxEntities: budget * 4)),
            ("lru+ttl", EvictionPolicy(policies: [.lru, .ttl], maxCells: budget, ttl: ttl, maxEntities: .max)),
            ("lru+ttl+size", EvictionPolicy(policies: [.lru, .ttl, .size], maxCells: budget, ttl: ttl, maxEntities: budget * 3)),
        ]
        // Entities per cell vary, so SIZE differs from LRU.
        let weight: (CellID) -> Int = { Int(($0.raw &* 2654435761) % 8) + 1 }
        var lruHits = 0
        var ttlPeak = 0
        for (name, policy) in policies {
            let r = CacheSimulator.run(trace, policy: policy, entitiesPerCell: weight)
            if name == "lru" { lruHits = r.hits }
            if name.hasPrefix("ttl") { ttlPeak = r.peakResident }
            report.add("\(name): hit rate", r.hitRate * 100, "%")
            report.add("\(name): peak resident cells", Double(r.peakResident), "cells")
            report.add("\(name): loads (misses)", Double(r.misses), "loads")
            if name != "lru" && lruHits > 0 { report.ratio("\(name) hits / lru hits", Double(r.hits) / Double(lruHits)) }
        }
        // The fair comparison: LRU given the memory TTL ended up using.
        let lruSameMemory = CacheSimulator.run(
            trace, policy: EvictionPolicy(policies: [.lru], maxCells: ttlPeak, ttl: ttl, maxEntities: .max), entitiesPerCell: weight)
        report.add("lru at ttl's peak memory (\(ttlPeak) cells): hit rate", lruSameMemory.hitRate * 100, "%")
        report.notes.append("a hit is a cell re-entering a player's window while still in memory; a miss is a database load")
        return report
    }
}
