/// How a shard behaves: geometry, activation, queues and memory bounds.
public struct ShardSettings: Sendable, Equatable {
    public var grid: Grid
    /// Cells within this Chebyshev distance of a present player are active.
    public var activeRadius: Int
    /// How long a cell stays active after the last player's radius left it.
    public var hysteresis: Duration
    /// A player that sends nothing for this long stops keeping cells active.
    public var presenceTimeout: Duration
    /// Events queued per inactive cell at most.
    public var queueLimit: Int
    /// Unsaved changes at most; past it, changes that would add to them are refused.
    public var maxUnsavedChanges: Int
    /// Unsaved entities at which the shard asks for a checkpoint at once.
    public var earlyFlushThreshold: Int
    /// Entity rows one checkpoint takes at most (the longest unsaved first).
    public var checkpointMaxRows: Int
    public var eviction: EvictionPolicy
    /// World events a cell remembers (the oldest are dropped).
    public var recentWorldEventsPerCell: Int
    /// What one request may carry.
    public var limits: InputLimits

    public init(
        grid: Grid, activeRadius: Int = 2, hysteresis: Duration = .seconds(2), presenceTimeout: Duration = .seconds(60),
        queueLimit: Int = 10_000, maxUnsavedChanges: Int = 1_000_000, earlyFlushThreshold: Int = 1_000,
        checkpointMaxRows: Int = .max,
        eviction: EvictionPolicy = EvictionPolicy(policies: [.lru, .ttl, .size], maxCells: 1024, ttl: .seconds(300), maxEntities: 1_000_000),
        recentWorldEventsPerCell: Int = 32, limits: InputLimits = InputLimits()
    ) {
        self.grid = grid
        self.activeRadius = activeRadius
        self.hysteresis = hysteresis
        self.presenceTimeout = presenceTimeout
        self.queueLimit = queueLimit
        self.maxUnsavedChanges = maxUnsavedChanges
        self.earlyFlushThreshold = earlyFlushThreshold
        self.checkpointMaxRows = max(1, checkpointMaxRows)
        self.eviction = eviction
        self.recentWorldEventsPerCell = recentWorldEventsPerCell
        self.limits = limits
    }
}
