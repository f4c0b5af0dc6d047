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
        return report
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
