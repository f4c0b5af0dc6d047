import Console
import Testing
import Wire
import WorldCore

@Suite struct GridViewTests {
    /// An 8 x 8 grid: the first half of the Hilbert curve is w1's, the second w2's.
    static func status() -> Cellcluster_V1_StatusReply {
        .with {
            $0.map = .with { map in
                map.epoch = 3
                map.columns = 8
                map.rows = 8
                map.cellSize = 64
                map.curve = .hilbert
                map.workers = [.with { $0.workerID = "w1"; $0.endpoint = "tcp://127.0.0.1:1" }, .with { $0.workerID = "w2"; $0.endpoint = "tcp://127.0.0.1:2" }]
                map.ranges = [.with { $0.first = 0; $0.last = 31; $0.workerID = "w1" }, .with { $0.first = 32; $0.last = 63; $0.workerID = "w2" }]
            }
            $0.cellLoads = [
                .with { $0.cellID = 9; $0.entities = 3 },                            // row 1, column 1: w1's
                .with { $0.cellID = 50; $0.entities = 1; $0.eventsPerSecond = 40 },  // row 6, column 2: w2's, the busiest
            ]
        }
    }

    static func worker(_ id: String, cells: UInt32, applied: UInt64) -> Cellcluster_V1_WorkerStatus {
        .with { $0.workerID = id; $0.ownedCells = cells; $0.entities = 2; $0.monitor = .with { $0.eventsApplied = applied; $0.dbIo = applied / 10 } }
    }

    @Test func drawsOwnersEntitiesHotCellsAndRates() {
        var view = GridView(columns: 80, rows: 30, color: false)
        view.hotCells = 1
        let start = ContinuousClock.now
        _ = view.render(.init(status: Self.status(), workers: ["w1": Self.worker("w1", cells: 32, applied: 100), "w2": Self.worker("w2", cells: 32, applied: 0)],
                              at: start, clock: "12:00:00 UTC"))
        let lines = view.render(.init(status: Self.status(), workers: ["w1": Self.worker("w1", cells: 32, applied: 300)],
                                      at: start + .seconds(2), clock: "12:00:02 UTC"))
        // The grid fits at 1 x 2 cells a character (cells look square): the letter of the block's
        // owner (w1 on a tie), upper case with entities (cell 9), # with the busiest cell (50).
        let partition = try! Self.status().map.partitionMap(grid: try! Grid(width: 512, height: 512, cellSize: 64))
        let expected = (0..<4).map { blockRow in
            "|" + String((0..<8).map { column -> Character in
                let cells = [CellID(Int64(2 * blockRow * 8 + column)), CellID(Int64((2 * blockRow + 1) * 8 + column))]
                if cells.contains(CellID(50)) { return "#" }
                let w2 = cells.filter { partition.owner(of: $0) == "w2" }.count
                let letter: Character = w2 > 1 ? "b" : "a"
                return cells.contains(CellID(9)) ? Character(letter.uppercased()) : letter
            }) + "|"
        }
        #expect(lines.filter { $0.hasPrefix("|") } == expected, "\(lines.joined(separator: "\n"))")
        #expect(Set(expected.joined()).isSuperset(of: ["a", "b", "#"]))
        #expect(lines[0].contains("map epoch 3") && lines[0].contains("12:00:02 UTC"))
        #expect(lines.contains { $0.contains("a = w1") && $0.contains("b = w2") })
        // w1: 200 updates in 2 s; w2 did not answer this time.
        let w1 = lines.first { $0.hasPrefix("a  w1") }
        #expect(w1?.contains(" 100 ") == true, "\(lines.joined(separator: "\n"))")
        #expect(lines.first { $0.hasPrefix("b  w2") }?.contains("no answer") == true)
    }

    @Test func aLargeGridIsDrawnInBlocksThatFitTheTerminal() {
        var status = Self.status()
        status.map.columns = 512
        status.map.rows = 512
        status.map.ranges = [.with { $0.first = 0; $0.last = 512 * 256 - 1; $0.workerID = "w1" },
                             .with { $0.first = 512 * 256; $0.last = 512 * 512 - 1; $0.workerID = "w2" }]
        var view = GridView(columns: 100, rows: 40, color: true)
        let lines = view.render(.init(status: status, workers: [:], at: .now, clock: "-"))
        #expect(lines.count <= 40)
        let plain = lines.map { $0.replacingOccurrences(of: "\u{1B}[0m", with: "").replacing(/\u{1B}\[\d+;\d+m/, with: "") }
        #expect(plain.allSatisfy { $0.count <= 100 }, "\(plain.map(\.count))")
        #expect(lines.contains { $0.contains("\u{1B}[44;97m") } && lines.contains { $0.contains("\u{1B}[42;97m") })
    }

    @Test func noMapYetIsSaid() {
        var view = GridView(columns: 80, rows: 24, color: false)
        let lines = view.render(.init(status: .init(), workers: [:], at: .now, clock: "-"))
        #expect(lines.last?.contains("no shard map yet") == true)
    }
}
