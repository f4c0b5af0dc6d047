@testable import WorldCore

/// A shard over an in-memory store with a hand-driven clock.
struct Harness {
    static let grid = try! Grid(width: 1000, height: 1000, cellSize: 100)  // 10 x 10 cells
    let start = ContinuousClock.now
    var elapsed: Duration = .zero
    var manager: WorldManager
    let store: InMemoryWorldStore

    init(radius: Int = 1, hysteresis: Duration = .seconds(2), queueLimit: Int = 100, maxUnsaved: Int = 10_000,
         eviction: EvictionPolicy = EvictionPolicy(policies: [.lru], maxCells: 1000, ttl: .seconds(3600), maxEntities: 1_000_000),
         store: InMemoryWorldStore = InMemoryWorldStore(), limits: InputLimits = InputLimits(), checkpointMaxRows: Int = .max) {
        self.store = store
        let settings = ShardSettings(
            grid: Self.grid, activeRadius: radius, hysteresis: hysteresis, queueLimit: queueLimit,
            maxUnsavedChanges: maxUnsaved, earlyFlushThreshold: 50, checkpointMaxRows: checkpointMaxRows, eviction: eviction, limits: limits)
        let first = (try? store.maxEventSequence()).map { $0 + 1 } ?? 1
        manager = WorldManager(shard: Shard(settings: settings, firstSequence: first), store: store)
    }

    var now: ContinuousClock.Instant { start + elapsed }
    var shard: Shard { manager.shard }

    mutating func advance(_ d: Duration) {
        elapsed += d
        manager.tick(now: now)
    }

    /// The cell at column, row of the 10 x 10 grid.
    static func cell(_ column: Int, _ row: Int) -> CellID { grid.cell(column: column, row: row)! }
    /// The middle of a cell.
    static func center(_ column: Int, _ row: Int) -> Position { Position(x: Double(column) * 100 + 50, y: Double(row) * 100 + 50) }

    @discardableResult
    mutating func spawn(_ id: UInt64, _ kind: EntityKind, at column: Int, _ row: Int, stats: [String: Double] = [:]) throws -> EventOutcome {
        let position = Self.center(column, row)
        let entity = Entity(id: EntityID(id), kind: kind, position: position, cell: Self.cell(column, row), stats: stats)
        return try manager.apply(.entitySpawn(entity), to: Self.cell(column, row), now: now)
    }

    @discardableResult
    mutating func move(_ id: UInt64, to column: Int, _ row: Int, from cell: CellID? = nil) throws -> EventOutcome {
        try manager.apply(.entityMove(EntityID(id), to: Self.center(column, row)), to: cell ?? Self.cell(column, row), now: now)
    }

    @discardableResult
    mutating func act(_ id: UInt64, in cell: CellID, _ deltas: [String: Double]) throws -> EventOutcome {
        try manager.apply(.entityAction(EntityID(id), action: "test", deltas: deltas), to: cell, now: now)
    }

    func active() -> Set<CellID> { Set(shard.activeCells) }

    static func window(_ column: Int, _ row: Int, radius: Int = 1) -> Set<CellID> {
        Set(grid.cells(within: radius, of: cell(column, row)))
    }
}

/// The `WorldError` a body throws, or nil when it does not throw one.
func thrown(_ body: () throws -> Void) -> WorldError? {
    do {
        try body()
        return nil
    } catch let error as WorldError {
        return error
    } catch {
        return nil
    }
}
