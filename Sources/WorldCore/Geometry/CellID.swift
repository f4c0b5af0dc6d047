/// A cell, numbered row-major: `row * columns + column`.
public struct CellID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let raw: Int64
    public init(_ raw: Int64) { self.raw = raw }
    public static func < (a: CellID, b: CellID) -> Bool { a.raw < b.raw }
    public var description: String { "cell \(raw)" }
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
