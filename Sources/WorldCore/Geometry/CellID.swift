/// A cell, numbered row-major: `row * columns + column`.
public struct CellID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let raw: Int64
    public init(_ raw: Int64) { self.raw = raw }
    public static func < (a: CellID, b: CellID) -> Bool { a.raw < b.raw }
    public var description: String { "cell \(raw)" }

    public func hash(into hasher: inout Hasher) { hasher.combine(raw) }
    /// A dictionary or set hashes an id as its integer: the same value as `hash(into:)` gives, in
    /// one call instead of a `Hasher` made, fed and finished for every lookup (a few percent of
    /// a worker's time went to those on the request path).
    public func _rawHashValue(seed: Int) -> Int { raw._rawHashValue(seed: seed) }
}

/// A cell's column and row.
public struct CellCoord: Sendable, Hashable {
    public let column: Int
    public let row: Int
    public init(column: Int, row: Int) {
        self.column = column
        self.row = row
    }
}
