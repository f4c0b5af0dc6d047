/// A point in world units. `z` is carried but does not choose the cell.
public struct Position: Sendable, Equatable, Hashable {
    public var x: Double
    public var y: Double
    public var z: Double

    public init(x: Double, y: Double, z: Double = 0) {
        self.x = x
        self.y = y
        self.z = z
    }

    /// Throws when a coordinate is NaN or infinite.
    public func validated() throws(WorldError) -> Position {
        guard x.isFinite else { throw .invalidPosition(field: "x", value: x) }
        guard y.isFinite else { throw .invalidPosition(field: "y", value: y) }
        guard z.isFinite else { throw .invalidPosition(field: "z", value: z) }
        return self
    }
}
