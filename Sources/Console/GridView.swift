import Foundation
import Wire
import WorldCore

/// `cellcluster top`'s picture of the cluster, as text: which worker owns each region of the
/// grid, where the entities are, the hot cells, and each worker's rates. Pure: it takes what
/// the coordinator and the workers answered and the terminal's size, and returns the lines.
public struct GridView {
    /// One frame's input.
    public struct Frame {
        public var status: Cellcluster_V1_StatusReply
        /// The workers' own answers (nil: no answer this time), by worker id.
        public var workers: [String: Cellcluster_V1_WorkerStatus]
        public var at: ContinuousClock.Instant
        public var clock: String

        public init(status: Cellcluster_V1_StatusReply, workers: [String: Cellcluster_V1_WorkerStatus], at: ContinuousClock.Instant, clock: String) {
            self.status = status
            self.workers = workers
            self.at = at
            self.clock = clock
        }
    }

    public var columns: Int
    public var rows: Int
    public var color: Bool
    /// How many of the busiest cells are marked hot.
    public var hotCells = 5
    /// The previous frame, for rates.
    private var previous: Frame?

    public init(columns: Int, rows: Int, color: Bool) {
        self.columns = max(40, columns)
        self.rows = max(12, rows)
        self.color = color
    }

    /// The worker's letter: a, b, c, … in the map's order (uppercase where entities are).
    static func letter(_ index: Int) -> Character {
        Character(UnicodeScalar(UInt8(97 + index % 26)))
    }

    static let backgrounds = [44, 42, 45, 46, 43, 41, 104, 102, 105, 106]

    /// The frame's lines, at most `rows`, each at most `columns` characters wide (without colour codes).
    public mutating func render(_ frame: Frame) -> [String] {
        defer { previous = frame }
        let map = frame.status.map
        let workers = map.workers.map(\.workerID)
        var lines = ["cellcluster top  map epoch \(map.epoch)  \(workers.count) workers  \(map.columns) x \(map.rows) cells  \(frame.clock)"]
        guard map.columns > 0, map.rows > 0, let partition = try? map.partitionMap(grid: Grid(width: Double(map.columns) * max(1, map.cellSize), height: Double(map.rows) * max(1, map.cellSize), cellSize: max(1, map.cellSize))) else {
            lines.append("no shard map yet: the coordinator waits for its workers")
            return lines
        }
        let tableRows = workers.count + 1
        let mapHeight = max(4, rows - 1 - 2 - 2 - tableRows)  // title, border, legend (2), table
        let mapWidth = columns - 2
        let cellColumns = Int(map.columns), cellRows = Int(map.rows)
        // A character is about twice as tall as it is wide: a block of w x 2w cells draws square
        // cells. The smallest w whose blocks fit.
        var blockWidth = 1
        while (cellColumns + blockWidth - 1) / blockWidth > mapWidth || (cellRows + 2 * blockWidth - 1) / (2 * blockWidth) > mapHeight {
            blockWidth += 1
        }
        let blockHeight = 2 * blockWidth
        let across = (cellColumns + blockWidth - 1) / blockWidth
        let down = (cellRows + blockHeight - 1) / blockHeight

        var entities: [Int64: UInt32] = [:]
        var rates: [(cell: Int64, rate: Double)] = []
        for load in frame.status.cellLoads {
            entities[load.cellID, default: 0] += load.entities
            if load.eventsPerSecond > 0 { rates.append((load.cellID, load.eventsPerSecond)) }
        }
        let hot = Set(rates.sorted { $0.rate > $1.rate || ($0.rate == $1.rate && $0.cell < $1.cell) }.prefix(hotCells).map(\.cell))
        let index = Dictionary(uniqueKeysWithValues: workers.enumerated().map { ($1, $0) })

        lines.append("+" + String(repeating: "-", count: across) + "+")
        for by in 0..<down {
            var line = "|"
            for bx in 0..<across {
                var owners: [Int: Int] = [:]
                var count: UInt32 = 0
                var isHot = false
                for row in by * blockHeight..<min(cellRows, (by + 1) * blockHeight) {
                    for column in bx * blockWidth..<min(cellColumns, (bx + 1) * blockWidth) {
                        let cell = CellID(Int64(row * cellColumns + column))
                        if let i = index[partition.owner(of: cell)] { owners[i, default: 0] += 1 }
                        count &+= entities[cell.raw] ?? 0
                        if hot.contains(cell.raw) { isHot = true }
                    }
                }
                let owner = owners.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }?.key
                var character: Character = owner.map { Self.letter($0) } ?? "?"
                if count > 0 { character = Character(character.uppercased()) }
                if isHot { character = "#" }
                if color, let owner {
                    line += "\u{1B}[\(Self.backgrounds[owner % Self.backgrounds.count]);97m\(character)\u{1B}[0m"
                } else {
                    line.append(character)
                }
            }
            lines.append(line + "|")
        }
        lines.append("+" + String(repeating: "-", count: across) + "+")
        lines.append("1 char = \(blockWidth) x \(blockHeight) cells; letter: owner (upper case: entities there); #: the \(hotCells) busiest cells")
        lines.append(workers.enumerated().map { "\(Self.letter($0.offset)) = \($0.element)" }.joined(separator: "  "))

        let header = ["", "worker", "cells", "active", "entities", "updates/s", "db ops/s", "unsaved age ms", "ckpt p99 ms"]
        var table = [header]
        let seconds = previous.map { before -> Double in
            let (whole, fraction) = (frame.at - before.at).components
            return max(0.001, Double(whole) + Double(fraction) / 1e18)
        }
        for (i, id) in workers.enumerated() {
            guard let st = frame.workers[id] else {
                table.append([String(Self.letter(i)), id, "-", "-", "-", "-", "-", "-", "no answer"])
                continue
            }
            let m = st.monitor
            var updates = "-", db = "-"
            if let seconds, let before = previous?.workers[id]?.monitor {
                updates = String(format: "%.0f", Double(m.eventsApplied &- before.eventsApplied) / seconds)
                db = String(format: "%.0f", Double(m.dbIo &- before.dbIo) / seconds)
            }
            table.append([String(Self.letter(i)), id, "\(st.ownedCells)", "\(st.activeCells)", "\(st.entities)", updates, db,
                          "\(m.oldestUnsavedAgeMs)", String(format: "%.1f", m.checkpointP99Ms)])
        }
        let widths = header.indices.map { c in table.map { $0[c].count }.max() ?? 0 }
        for row in table {
            lines.append(row.indices.map { row[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
        return Array(lines.prefix(rows))
    }
}
