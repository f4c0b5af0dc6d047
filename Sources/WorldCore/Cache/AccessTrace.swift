import Foundation

/// A recorded workload: at each step, the cells players needed (their active windows).
public struct AccessTrace: Sendable {
    public struct Step: Sendable {
        public let time: Duration
        public let cells: [CellID]
    }
    public let grid: Grid
    public let steps: [Step]

    /// Players walking with momentum: each keeps a heading for a while, turns now and then, and
    /// stays inside the world. Seeded, so the same arguments give the same trace.
    public static func walkingPlayers(
        grid: Grid, players: Int, steps: Int, radius: Int, stepEvery: Duration = .milliseconds(100),
        speedCellsPerStep: Double = 0.2, seed: UInt64
    ) -> AccessTrace {
        var random = SeededRandom(seed: seed)
        var positions: [(x: Double, y: Double, dx: Double, dy: Double)] = (0..<players).map { _ in
            let angle = Double(random.next() % 360) * .pi / 180
            return (Double(random.next() % UInt64(grid.columns)), Double(random.next() % UInt64(grid.rows)),
                    cos(angle) * speedCellsPerStep, sin(angle) * speedCellsPerStep)
        }
        var result: [Step] = []
        result.reserveCapacity(steps)
        for step in 0..<steps {
            var needed = Set<CellID>()
            for i in positions.indices {
                var p = positions[i]
                if random.next() % 50 == 0 {  // turn about every 50 steps
                    let angle = Double(random.next() % 360) * .pi / 180
                    p.dx = cos(angle) * speedCellsPerStep
                    p.dy = sin(angle) * speedCellsPerStep
                }
                p.x += p.dx
                p.y += p.dy
                if p.x < 0 || p.x >= Double(grid.columns) { p.dx = -p.dx; p.x = min(max(p.x, 0), Double(grid.columns) - 0.001) }
                if p.y < 0 || p.y >= Double(grid.rows) { p.dy = -p.dy; p.y = min(max(p.y, 0), Double(grid.rows) - 0.001) }
                positions[i] = p
                let center = grid.cell(column: Int(p.x), row: Int(p.y))!
                needed.formUnion(grid.cells(within: radius, of: center))
            }
            result.append(Step(time: stepEvery * step, cells: needed.sorted()))
        }
        return AccessTrace(grid: grid, steps: result)
    }
}

/// SplitMix64: small, fast, and the same on every platform.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
