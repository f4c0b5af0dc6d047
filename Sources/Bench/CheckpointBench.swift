import Checkpoint
import Foundation
import Logging
import Postgres
import WorldCore

/// Write-behind against write-through, and checkpoint throughput against PostgreSQL's own limit,
/// on a scratch database created for the run and dropped after it.
public enum CheckpointBench {
    public struct Options: Sendable {
        public var entities = 10_000
        public var hz = 10
        public var seconds = 5
        public var interval: Duration = .seconds(1)
        public var batchSize = 100
        /// Write-through is slow: it runs for at most this long and its rate is extrapolated.
        public var writeThroughBudget: Duration = .seconds(8)
        public var throughputRows = 50_000
        public init() {}
    }

    public static func run(_ parameters: ConnectionParameters, options: Options = Options()) throws -> BenchReport {
        try withScratchDatabase(parameters, prefix: "cellcluster_bench") { scratch in
            let connection = try Connection(scratch)
            defer { connection.close() }
            return try run(scratch, connection, options)
        }
    }

    private static func run(_ scratch: ConnectionParameters, _ connection: Connection, _ options: Options) throws -> BenchReport {

        var report = BenchReport(benchmark: "checkpoint", parameters: [
            "entities": "\(options.entities)", "hz": "\(options.hz)", "seconds": "\(options.seconds)",
            "interval_ms": "\(Int(options.interval.components.seconds * 1000))", "batch_size": "\(options.batchSize)",
        ])
        try designTest(scratch, connection, options, &report)
        try throughput(connection, options, &report)
        return report
    }

    // MARK: (a) the design's test

    private static func designTest(_ parameters: ConnectionParameters, _ connection: Connection, _ o: Options, _ report: inout BenchReport) throws {
        let grid = try Grid(width: 6400, height: 6400, cellSize: 64)
        let updates = o.entities * o.hz * o.seconds
        var random = SeededRandom(seed: 11)
        let entities: [Entity] = (0..<o.entities).map { i in
            let p = Position(x: Double(random.next() % 6000) + 100, y: Double(random.next() % 6000) + 100)
            return Entity(id: EntityID(UInt64(i + 1)), kind: i % 100 == 0 ? .player : .npc, position: p, cell: try! grid.cell(at: p), stats: ["hp": 100])
        }

        // Write-through: one statement per update, for as long as the budget allows.
        let writeThrough = WriteThroughStore(connection: connection)
        var wtDone = 0
        let wtDeadline = ContinuousClock.now + o.writeThroughBudget
        let wtTime = try measure {
            while wtDone < updates && ContinuousClock.now < wtDeadline {
                var e = entities[wtDone % entities.count]
                e.position.x += 1
                e.version = UInt64(wtDone + 1)
                try writeThrough.write(e)
                wtDone += 1
            }
        }
        let wtRate = Double(wtDone) / wtTime.seconds
        _ = try connection.query("TRUNCATE entity_states")

        // Write-behind: the shard in memory with every cell active (one player whose radius covers
        // the world), and a checkpoint at every interval boundary of simulated time, through the
        // writer thread and waited for, so the counts are exactly those of 10 Hz and a 1 s interval.
        let wide = try Grid(width: 6400, height: 6400, cellSize: 640)
        let settings = ShardSettings(grid: wide, activeRadius: 10, maxUnsavedChanges: 10_000_000, earlyFlushThreshold: 100_000_000)
        var shard = Shard(settings: settings)
        let loader = PostgresWorldStore(connection: connection, chunkSize: o.batchSize)
        let t0 = ContinuousClock.now
        let center = Entity(id: EntityID(UInt64(o.entities + 1)), kind: .player, position: Position(x: 3200, y: 3200), cell: try wide.cell(at: Position(x: 3200, y: 3200)))
        for e in [center] + entities {
            var placed = e
            placed.cell = try wide.cell(at: e.position)
            _ = try shard.apply(.entitySpawn(placed), to: placed.cell, now: t0)
            for case let .load(cell) in shard.takeActions() { shard.cellLoaded(try loader.loadCell(cell), now: t0) }
        }
        if let first = shard.takeCheckpoint(now: t0) {  // the spawn itself is not part of the test
            let r = try loader.write(first)
            shard.checkpointSucceeded(first, report: r, duration: .zero, now: t0)
        }
        let before = shard.monitorSnapshot(now: t0)
        let writer = CheckpointWriter(parameters: parameters, chunkSize: o.batchSize, logger: Logger(label: "bench.checkpoint"))
        defer { writer.stop() }
        var checkpointer = Checkpointer(writer: writer, scheduler: CheckpointScheduler(
            interval: o.interval, retryInitial: .milliseconds(100), retryMax: .seconds(2), now: t0))
        let ticks = o.hz * o.seconds
        let tickLength = Duration.seconds(1) / o.hz
        let cells = entities.map { (try? wide.cell(at: $0.position)) ?? CellID(0) }
        let wbTime = try measure {
            for tick in 0..<ticks {
                let now = t0 + tickLength * (tick + 1)
                for i in entities.indices {
                    let e = entities[i]
                    let to = Position(x: e.position.x + Double(tick % 20) - 10, y: e.position.y)
                    _ = try shard.apply(.entityMove(e.id, to: to), to: cells[i], now: now)
                }
                _ = shard.takeActions()
                _ = checkpointer.pump(&shard, now: now)
                // Wait for a checkpoint that started to commit before simulated time goes on.
                while checkpointer.scheduler.inFlight {
                    Thread.sleep(forTimeInterval: 0.0005)
                    _ = checkpointer.pump(&shard, now: now)
                }
            }
        }
        let snapshot = shard.monitorSnapshot(now: .now)
        let checkpoints = Int(snapshot.checkpoints - before.checkpoints)
        let rows = Int(snapshot.checkpointRows - before.checkpointRows)
        let statements = checkpoints * 2 + (rows + o.batchSize - 1) / o.batchSize  // BEGIN and COMMIT, chunks
        let unsaved = shard.unsavedChanges

        let wtTimeForAll = Double(updates) / wtRate
        report.add("(a) updates", Double(updates), "updates")
        report.add("(a) write-through rate (1 statement per update)", wtRate, "updates/s")
        report.add("(a) write-through statements", Double(updates), "statements")
        report.add("(a) write-through time for all updates (rate × count)", wtTimeForAll, "s")
        report.add("(a) write-behind time (apply in memory + every checkpoint committed)", wbTime.seconds, "s")
        report.add("(a) write-behind checkpoints", Double(checkpoints), "checkpoints")
        report.add("(a) write-behind rows written", Double(rows), "rows")
        report.add("(a) write-behind statements (approx.)", Double(statements), "statements")
        report.ratio("(a) speedup, write-behind over write-through", wtTimeForAll / wbTime.seconds)
        report.add("(a) DB I/O reduction (statements)", (1 - Double(statements) / Double(updates)) * 100, "%")
        report.add("(a) row-write reduction", (1 - Double(rows) / Double(updates)) * 100, "%")
        report.add("(a) changes still unsaved at the end (the last interval)", Double(unsaved), "rows")
        if wtDone < updates {
            report.notes.append("write-through ran \(wtDone) of \(updates) updates within its budget; its time for all is extrapolated from that rate")
        }
    }

    // MARK: (b) throughput against PostgreSQL's best raw method

    /// PostgreSQL's fastest ways to write the same rows, with none of the checkpoint's rules (no
    /// fencing, no transaction of its own beyond one per step, chunk sizes of their choosing).
    enum RawMethod: String, CaseIterable {
        case insertUnnest = "INSERT … SELECT FROM unnest (binary arrays, one statement)"
        case insertCopy = "binary COPY into the table"
        case updateUnnest = "UPDATE … FROM unnest (binary arrays, one statement)"
        case updateCopy = "binary COPY into a staging table, then one UPDATE … FROM"

        var rewrites: Bool { self == .updateUnnest || self == .updateCopy }
    }

    private static func throughput(_ connection: Connection, _ o: Options, _ report: inout BenchReport) throws {
        let grid = try Grid(width: 6400, height: 6400, cellSize: 64)
        let rows: [Entity] = (0..<o.throughputRows).map { i in
            let p = Position(x: Double(i % 6000) + 50, y: Double((i / 6000) * 50 % 6000) + 50)
            return Entity(id: EntityID(UInt64(1_000_000 + i)), kind: .npc, position: p, cell: try! grid.cell(at: p), stats: ["hp": 100, "mana": 20], version: 1, ownerEpoch: 1)
        }
        let newer = rows.map { var e = $0; e.version = 2; e.position.x += 1; return e }
        // Shaped like entity_states: the same indexes and fill factor.
        try connection.execute(script: "CREATE TABLE raw_limit (LIKE entity_states INCLUDING ALL) WITH (fillfactor = 80)")
        let store = PostgresWorldStore(connection: connection, chunkSize: o.batchSize)
        var oursInsert: [Double] = [], oursUpdate: [Double] = []
        var raw: [RawMethod: [Double]] = [:]
        // Each step starts from a flushed server (CHECKPOINT, where allowed) and a table in the
        // state it needs, and the order alternates between rounds, so no side pays for another's WAL.
        func settle() { _ = try? connection.query("CHECKPOINT") }
        // Every step must have written every row, or the comparison means nothing.
        func verify(_ table: String, version: Int64) throws {
            let n = try connection.query("SELECT count(*) FROM \(table) WHERE version = \(version)").int64(0, 0)
            guard n == Int64(rows.count) else {
                throw PQError(code: .unexpectedResult, message: "\(table) holds \(n) of \(rows.count) rows at version \(version)", context: "bench checkpoint")
            }
        }
        func ours(_ entities: [Entity], round: Int) throws -> Double {
            settle()
            let t = try measure { try store.write(CheckpointBatch(id: UInt64(round), entities: entities, cells: [], newEvents: [], oldestChange: nil)) }
            try verify("entity_states", version: Int64(entities[0].version))
            return t.seconds
        }
        func rawStep(_ method: RawMethod) throws -> Double {
            try connection.execute(script: "TRUNCATE raw_limit")
            if method.rewrites { try copyRows(connection, rows, into: "raw_limit") }
            settle()
            let t = try measure { try rawWrite(connection, method, method.rewrites ? newer : rows) }
            try verify("raw_limit", version: method.rewrites ? 2 : 1)
            return t.seconds
        }
        for round in 0..<7 {
            try connection.execute(script: "TRUNCATE entity_states")
            let methods = round % 2 == 0 ? RawMethod.allCases : RawMethod.allCases.reversed()
            if round % 2 == 1 {
                oursInsert.append(try ours(rows, round: round))
                oursUpdate.append(try ours(newer, round: round))
            }
            for m in methods { raw[m, default: []].append(try rawStep(m)) }
            if round % 2 == 0 {
                oursInsert.append(try ours(rows, round: round))
                oursUpdate.append(try ours(newer, round: round))
            }
        }
        let n = Double(o.throughputRows)
        let median = { (xs: [Double]) in xs.sorted()[xs.count / 2] }
        for m in RawMethod.allCases { report.add("(b) raw: \(m.rawValue), median of 7", n / median(raw[m]!), "rows/s") }
        report.add("(b) checkpoint, new rows (fenced upsert, chunks of \(o.batchSize)), median of 7", n / median(oursInsert), "rows/s")
        report.add("(b) checkpoint, existing rows (fenced upsert, chunks of \(o.batchSize)), median of 7", n / median(oursUpdate), "rows/s")
        // Paired within each round (same moment, same load on the machine) against that round's
        // fastest raw method for the same job, then the median.
        func best(_ methods: [RawMethod], _ round: Int) -> Double { methods.map { raw[$0]![round] }.min()! }
        let insertRatio = median((0..<7).map { best([.insertUnnest, .insertCopy], $0) / oursInsert[$0] })
        let updateRatio = median((0..<7).map { best([.updateUnnest, .updateCopy], $0) / oursUpdate[$0] })
        report.ratio("(b) checkpoint new rows / best raw insert (median of paired rounds)", insertRatio)
        report.ratio("(b) checkpoint existing rows / best raw rewrite (median of paired rounds)", updateRatio)
    }

    /// One raw write of `rows` into raw_limit, in one transaction.
    private static func rawWrite(_ connection: Connection, _ method: RawMethod, _ rows: [Entity]) throws {
        let columns = PostgresWorldStore.entityColumns(rows[...])
        let unnest = """
            unnest($1::int8[], $2::int8[], $3::int2[], $4::jsonb[], $5::jsonb[], $6::int8[], $7::int8[], $8::int8[])
                AS t(id, cell, kind, stats, position, version, actions, epoch)
            """
        let set = """
            cell_id = t.cell_id, kind = t.kind, stats = t.stats, position = t.position, version = t.version,
            actions = t.actions, owner_epoch = t.owner_epoch, updated_at = now()
            """
        switch method {
        case .insertUnnest:
            _ = try connection.pipeline([PipelinedStatement("BEGIN"), PipelinedStatement("""
                INSERT INTO raw_limit (entity_id, cell_id, kind, stats, position, version, actions, owner_epoch, updated_at)
                SELECT t.id, t.cell, t.kind, t.stats, t.position, t.version, t.actions, t.epoch, now() FROM \(unnest)
                """, columns), PipelinedStatement("COMMIT")])
        case .insertCopy:
            try connection.query("BEGIN")
            try copyRows(connection, rows, into: "raw_limit")
            try connection.query("COMMIT")
        case .updateUnnest:
            _ = try connection.pipeline([PipelinedStatement("BEGIN"), PipelinedStatement("""
                UPDATE raw_limit r SET \(set) FROM (SELECT t.id AS entity_id, t.cell AS cell_id, t.kind, t.stats, t.position,
                    t.version, t.actions, t.epoch AS owner_epoch FROM \(unnest)) t WHERE r.entity_id = t.entity_id
                """, columns), PipelinedStatement("COMMIT")])
        case .updateCopy:
            try connection.query("BEGIN")
            try connection.query("CREATE TEMP TABLE staging (LIKE raw_limit INCLUDING DEFAULTS) ON COMMIT DROP")
            try copyRows(connection, rows, into: "staging")
            try connection.query("UPDATE raw_limit r SET \(set) FROM staging t WHERE r.entity_id = t.entity_id")
            try connection.query("COMMIT")
        }
    }

    /// Binary COPY of the rows into `table` (its updated_at takes the default).
    private static func copyRows(_ connection: Connection, _ rows: [Entity], into table: String) throws {
        var encoder = BinaryCopyEncoder(reservingCapacity: rows.count * 120)
        for e in rows { PostgresWorldStore.appendCopyRow(e, to: &encoder) }
        let copied = try connection.copyIn(
            "COPY \(table) (entity_id, cell_id, kind, stats, position, version, actions, owner_epoch) FROM STDIN (FORMAT binary)",
            binary: encoder)
        guard copied == rows.count else {
            throw PQError(code: .unexpectedResult, message: "COPY stored \(copied) of \(rows.count) rows", context: "bench checkpoint")
        }
    }
}
