public struct EntityID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let raw: UInt64
    public init(_ raw: UInt64) { self.raw = raw }
    public static func < (a: EntityID, b: EntityID) -> Bool { a.raw < b.raw }
    public var description: String { "entity \(raw)" }

    public func hash(into hasher: inout Hasher) { hasher.combine(raw) }
    /// A dictionary or set hashes an id as its integer: the same value as `hash(into:)` gives, in
    /// one call instead of a `Hasher` made, fed and finished for every lookup (a few percent of
    /// a worker's time went to those on the request path).
    public func _rawHashValue(seed: Int) -> Int { raw._rawHashValue(seed: seed) }
}

public enum EntityKind: UInt8, Sendable, CaseIterable {
    case player = 1
    case npc = 2
    case object = 3
}

/// A player, NPC or object as the world keeps it in memory.
public struct Entity: Sendable, Equatable {
    public let id: EntityID
    public var kind: EntityKind
    public var stats: [String: Double]
    public var position: Position
    /// The cell `position` falls in; kept by the shard.
    public var cell: CellID
    /// Bumped by every change. A checkpoint clears an entity's dirty mark only if the version it
    /// wrote is still the current one.
    public var version: UInt64
    /// Actions applied to this entity over its life (an audit counter).
    public var actions: UInt64
    /// The ownership epoch under which its owner writes it: storage refuses writes from an older one.
    public var ownerEpoch: UInt64

    public init(
        id: EntityID, kind: EntityKind, position: Position, cell: CellID, stats: [String: Double] = [:],
        version: UInt64 = 0, actions: UInt64 = 0, ownerEpoch: UInt64 = 0
    ) {
        self.id = id
        self.kind = kind
        self.stats = stats
        self.position = position
        self.cell = cell
        self.version = version
        self.actions = actions
        self.ownerEpoch = ownerEpoch
    }
}
