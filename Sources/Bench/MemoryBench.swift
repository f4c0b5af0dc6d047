import Foundation
import WorldCore

/// In-memory update rates of the shard: the hot path with no I/O.
public enum MemoryBench {
    /// A world with `players` players spread out and `entities` NPCs around them, all loaded.
    static func populatedShard(entities: Int, players: Int) throws -> (Shard, [Entity], InMemoryWorldStore) {
        let grid = try Grid(width: 4096, height: 4096, cellSize: 64)
        let settings = ShardSettings(grid: grid, activeRadius: 2, maxUnsavedChanges: 10_000_000, earlyFlushThreshold: 10_000_000)
        let store = InMemoryWorldStore()
        var manager = WorldManager(shard: Shard(settings: settings), store: store)
        let now = ContinuousClock.now
        var random = SeededRandom(seed: 42)
        var placed: [Entity] = []
        for p in 0..<players {
            let x = Double(random.next() % 4000) + 48, y = Double(random.next() % 4000) + 48
            let position = Position(x: min(x, 4000), y: min(y, 4000))
            let entity = Entity(id: EntityID(UInt64(p + 1)), kind: .player, position: position, cell: try grid.cell(at: position))
            _ = try manager.apply(.entitySpawn(entity), to: entity.cell, now: now)
            placed.append(entity)
        }
        // NPCs next to players, so they sit in active cells.
        for n in 0..<entities {
            let anchor = placed[n % players].position
            let position = Position(x: anchor.x + Double(random.next() % 60) - 30, y: anchor.y + Double(random.next() % 60) - 30)
            let entity = Entity(id: EntityID(UInt64(1_000_000 + n)), kind: .npc, position: position, cell: try grid.cell(at: position), stats: ["hp": 100])
            _ = try manager.apply(.entitySpawn(entity), to: entity.cell, now: now)
            placed.append(entity)
        }
        return (manager.shard, placed, store)
    }

    /// Moves of entities in active cells, applied straight to the shard (the worker's hot path).
    public static func run(updates: Int, entities: Int = 10_000, players: Int = 100) throws -> BenchReport {
        var report = BenchReport(benchmark: "memory", parameters: ["updates": "\(updates)", "entities": "\(entities + players)"])
        var (shard, placed, _) = try populatedShard(entities: entities, players: players)
        let ids = placed.map(\.id)
        let origins = placed.map(\.position)
        let cells = placed.map(\.cell)
        let now = ContinuousClock.now
        // Small steps around each entity's origin: most stay in their cell, some cross into the next.
        var offsets: [(Double, Double)] = []
        for i in 0..<64 {
            let dx = Double(i % 8) * 1.5 - 6
            let dy = Double(i / 8) * 1.5 - 6
            offsets.append((dx, dy))
        }
        var failures = 0
        let elapsed = try measure {
            for u in 0..<updates {
                let i = u % ids.count
                let o = offsets[(u / ids.count) & 63]
                let to = Position(x: origins[i].x + o.0, y: origins[i].y + o.1)
                if case .deferred = try shard.apply(.entityMove(ids[i], to: to), to: cells[i], now: now) { failures += 1 }
                if u & 1023 == 0 { _ = shard.takeActions() }
            }
        }
        // Baseline in the same run: the bare minimum, a dictionary write per update.
        var bare: [EntityID: Position] = Dictionary(uniqueKeysWithValues: zip(ids, origins))
        let baseline = measure {
            for u in 0..<updates {
                let i = u % ids.count
                let o = offsets[(u / ids.count) & 63]
                bare[ids[i]] = Position(x: origins[i].x + o.0, y: origins[i].y + o.1)
            }
        }
        let rate = Double(updates) / elapsed.seconds
        report.add("entity updates applied in memory", rate, "updates/s")
        report.add("time per update", elapsed.seconds / Double(updates) * 1e9, "ns")
        report.add("bare dictionary write (baseline)", Double(updates) / baseline.seconds, "writes/s")
        report.ratio("shard update cost / bare dictionary write", baseline.seconds > 0 ? elapsed.seconds / baseline.seconds : 0)
        report.add("unsaved entities after the run (coalesced)", Double(shard.unsavedChanges), "rows")
        if failures > 0 { report.notes.append("\(failures) updates were queued instead of applied") }
        try addWalking(to: &report, moves: max(300_000, updates / 5))
        return report
    }

    /// Players walking across cells on one of two workers' halves of the world: each crossing
    /// moves the player's window of active cells (and, near the border, its needs of the other
    /// worker's cells), which the moves above rarely do. Reported as time per move, and against
    /// a bare dictionary write of the same moves timed in the same run.
    static func addWalking(to report: inout BenchReport, moves: Int, players: Int = 3_000) throws {
        let grid = try Grid(width: 4096, height: 4096, cellSize: 64)
        var shard = Shard(settings: ShardSettings(grid: grid, activeRadius: 2, maxUnsavedChanges: 10_000_000, earlyFlushThreshold: 10_000_000))
        let now = ContinuousClock.now
        shard.setOwnership(Ownership(map: PartitionMap.even(grid: grid, workers: ["w1", "w2"], epoch: 1), worker: "w1"), now: now)
        var random = SeededRandom(seed: 7)
        var ids: [EntityID] = [], positions: [Position] = [], cells: [CellID] = [], steps: [(Double, Double)] = []
        for p in 0..<players {
            var position = Position(x: 0, y: 0), cell = CellID(0)
            repeat {  // a start in one of this shard's cells
                position = Position(x: Double(random.next() % 3_968) + 64, y: Double(random.next() % 3_968) + 64)
                cell = try grid.cell(at: position)
            } while !(shard.ownership?.owns(cell) ?? true)
            let entity = Entity(id: EntityID(UInt64(p + 1)), kind: .player, position: position, cell: cell)
            _ = try shard.apply(.entitySpawn(entity), to: cell, now: now)
            ids.append(entity.id)
            positions.append(position)
            cells.append(cell)
            // 16 units a step: a cell crossed every fourth step; some steps diagonal.
            let angle = Double(random.next() % 8) * Double.pi / 4
            steps.append((16 * cos(angle), 16 * sin(angle)))
        }
        // The walk, worked out before the clock runs: each step turns back at the shard's border.
        var walk: [(Int, Position, CellID)] = []
        walk.reserveCapacity(moves)
        for m in 0..<moves {
            let i = m % players
            var next = Position(x: positions[i].x + steps[i].0, y: positions[i].y + steps[i].1)
            var cell = try? grid.cell(at: next)
            if cell == nil || !(shard.ownership?.owns(cell!) ?? true) {
                steps[i] = (-steps[i].0, -steps[i].1)
                next = Position(x: positions[i].x + steps[i].0, y: positions[i].y + steps[i].1)
                cell = try grid.cell(at: next)
            }
            walk.append((i, next, cells[i]))
            positions[i] = next
            cells[i] = cell!
        }
        _ = shard.takeActions()
        var deferred = 0, crossings = 0
        let elapsed = try measure {
            for (n, (i, to, from)) in walk.enumerated() {
                if case .deferred = try shard.apply(.entityMove(ids[i], to: to), to: from, now: now) { deferred += 1 }
                if n & 1023 == 0 { _ = shard.takeActions() }
            }
        }
        for n in walk.indices where n >= players && walk[n].2 != walk[n - players].2 { crossings += 1 }
        var bare: [EntityID: Position] = Dictionary(uniqueKeysWithValues: zip(ids, positions))
        let baseline = measure {
            for (i, to, _) in walk { bare[ids[i]] = to }
        }
        report.add("walking players: time per move (\(players) players, \(Int((Double(crossings) / Double(moves) * 100).rounded())) % of moves cross a cell)",
                   elapsed.seconds / Double(moves) * 1e9, "ns")
        report.ratio("walking players: move cost / bare dictionary write", baseline.seconds > 0 ? elapsed.seconds / baseline.seconds : 0)
        if deferred > 0 { report.notes.append("walking players: \(deferred) moves were queued instead of applied") }
        if bare.count != players { report.notes.append("walking players: baseline lost entries") }
    }

    /// Actions (stat deltas) on entities in active cells.
    public static func runEvents(updates: Int, entities: Int = 10_000, players: Int = 100) throws -> BenchReport {
        var report = BenchReport(benchmark: "events", parameters: ["events": "\(updates)", "entities": "\(entities + players)"])
        var (shard, placed, _) = try populatedShard(entities: entities, players: players)
        let now = ContinuousClock.now
        let events: [(GameEvent, CellID)] = placed.map { (.entityAction($0.id, action: "hit", deltas: ["hp": -1]), $0.cell) }
        let cellEvents: [(GameEvent, CellID)] = placed.prefix(players).map { (.cellStateChange(set: ["weather": "rain"], remove: []), $0.cell) }
        let actions = try measure {
            for u in 0..<updates {
                let (event, cell) = events[u % events.count]
                _ = try shard.apply(event, to: cell, now: now)
            }
        }
        let cellChanges = try measure {
            for u in 0..<updates / 10 {
                let (event, cell) = cellEvents[u % cellEvents.count]
                _ = try shard.apply(event, to: cell, now: now)
            }
        }
        report.add("entity actions applied", Double(updates) / actions.seconds, "events/s")
        report.add("cell state changes applied", Double(updates / 10) / cellChanges.seconds, "events/s")
        return report
    }
}
