/// Why the world refused a request. Each case names what was at fault, so a client can act on it.
public enum WorldError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A coordinate is NaN or infinite.
    case invalidPosition(field: String, value: Double)
    /// A position lies outside the world's bounds.
    case outsideWorld(Position, width: Double, height: Double)
    /// A cell id that is not in the grid.
    case unknownCell(CellID)
    /// No such entity in memory (and, where it matters, in the cell named).
    case unknownEntity(EntityID)
    /// An entity with this id already exists.
    case entityExists(EntityID)
    /// The inactive cell's event queue holds `limit` events already; nothing was queued.
    case queueFull(CellID, limit: Int)
    /// Unsaved changes reached the configured bound while storage is failing.
    case storageUnavailable(unsaved: Int, limit: Int)
    /// A stat delta or value that is not a finite number.
    case invalidStat(name: String, value: Double)
    /// The grid's own settings are unusable.
    case invalidGrid(String)
    /// The cell belongs to another worker (a queued move that would cross shards at replay).
    case notOwned(CellID)
    /// A request carries (or would make a stored state hold) more than `limits.<key>` allows.
    case overLimit(what: String, size: Int, key: String, limit: Int)
    /// An epoch, version, counter or sequence has no successor (see `Counter`); `what` names it.
    case counterExhausted(what: String)

    public var description: String {
        switch self {
        case let .invalidPosition(field, value):
            "position.\(field) is \(value); positions must be finite numbers"
        case let .outsideWorld(p, width, height):
            "position (\(p.x), \(p.y)) is outside the world [0, \(width)) x [0, \(height))"
        case let .unknownCell(cell):
            "cell \(cell.raw) is not in the grid"
        case let .unknownEntity(id):
            "entity \(id.raw) is not here"
        case let .entityExists(id):
            "entity \(id.raw) already exists"
        case let .queueFull(cell, limit):
            "the event queue of inactive cell \(cell.raw) is full (\(limit) events); nothing was queued"
        case let .storageUnavailable(unsaved, limit):
            "storage unavailable: \(unsaved) unsaved changes reached the limit of \(limit); retry when the database is back"
        case let .invalidStat(name, value):
            "stat \(name) is \(value); stats must be finite numbers"
        case let .invalidGrid(reason):
            "invalid grid: \(reason)"
        case let .notOwned(cell):
            "cell \(cell.raw) belongs to another worker"
        case let .overLimit(what, size, key, limit):
            "\(what): \(size) is over the limit of \(limit) (limits.\(key) in cluster.yml)"
        case let .counterExhausted(what):
            "\(what) has no successor: it is at or past \(Counter.max), the largest value storage holds"
        }
    }
}
