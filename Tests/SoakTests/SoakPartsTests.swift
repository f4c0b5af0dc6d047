import Foundation
import Postgres
import Testing
@testable import Soak
@testable import WorldCore

@Suite struct SoakPartsTests {
    @Test func theFaultPlanIsTheSameForTheSameSeedAndBoundedByTheRun() {
        let a = FaultPlan.make(kinds: [.kill, .stop, .scale], duration: 600, every: 20, quiet: 60, seed: 7)
        let b = FaultPlan.make(kinds: [.kill, .stop, .scale], duration: 600, every: 20, quiet: 60, seed: 7)
        let c = FaultPlan.make(kinds: [.kill, .stop, .scale], duration: 600, every: 20, quiet: 60, seed: 8)
        #expect(a == b)
        #expect(a != c)
        #expect(a.count == 26)  // at 20, 40, … 520: none in the quiet last minute
        #expect(a.allSatisfy { $0.at >= 1 && $0.at < 540 })
        #expect(Set(a.map(\.kind)) == [.kill, .stop, .scale])
        #expect(FaultPlan.make(kinds: [], duration: 600, every: 20, quiet: 60, seed: 7).isEmpty)
    }

    static func simulated(_ id: UInt64, kind: EntityKind = .player, acked: UInt64 = 0, unknown: UInt64 = 0, version: UInt64 = 0) -> SimulatedEntity {
        let e = SimulatedEntity(id: EntityID(id), kind: kind, position: Position(x: 1, y: 1), lastCell: CellID(0), heading: 0, nextAt: .now)
        e.spawned = true
        e.ackedActions = acked
        e.unknownActions = unknown
        e.lastAckedVersion = version
        return e
    }

    @Test func theMemoryAuditFindsDuplicatesLossesAndCellsHeldByTheWrongWorker() throws {
        let grid = try Grid(width: 256, height: 256, cellSize: 64)
        let map = PartitionMap.even(grid: grid, workers: ["w1", "w2"], epoch: 1)
        let mine = map.cells(of: "w1")[0], theirs = map.cells(of: "w2")[0]
        var view = MemoryView()
        view.holders = [1: [("w1", mine.raw)], 2: [("w1", mine.raw), ("w2", theirs.raw)], 4: [("w1", theirs.raw)]]
        let created = [1, 2, 3, 4].map { Self.simulated($0) } + [Self.simulated(5, kind: .npc)]
        let problems = Auditor.checkMemory(view, created: created, map: map, queued: .init()).map(\.description)
        #expect(problems.count == 3, "\(problems)")
        #expect(problems.contains { $0.hasPrefix("entity 2: in the memory of 2 workers") })
        #expect(problems.contains { $0.hasPrefix("entity 3: player in no worker's memory") })
        #expect(problems.contains { $0.hasPrefix("entity 4: held by w1") })
    }

    @Test func theStorageAuditHoldsDurableActionsToWhatWasAcknowledged() {
        let created = [Self.simulated(1, acked: 5), Self.simulated(2, acked: 5), Self.simulated(3, acked: 5, unknown: 1),
                       Self.simulated(4, acked: 5, version: 9), Self.simulated(5)]
        let rows: [UInt64: (cell: Int64, version: UInt64, actions: UInt64, gold: Double)] = [
            1: (0, 10, 5, 5), 2: (0, 10, 4, 4), 3: (0, 10, 7, 7), 4: (0, 8, 5, 5),
        ]
        var queued = Auditor.Queued()
        queued.actions[2] = 1  // the fifth action waits in a queue: fine
        let problems = Auditor.checkStorage(rows: rows, created: created, memory: MemoryView(), queued: queued).violations.map(\.description)
        #expect(problems.count == 3, "\(problems)")
        #expect(problems.contains { $0.hasPrefix("entity 3: 7 actions stored") })
        #expect(problems.contains { $0.hasPrefix("entity 4: stored version 8 is older") })
        #expect(problems.contains { $0.hasPrefix("entity 5: not in PostgreSQL") })
    }

    @Test func theSoakSetsWhenActionsAreAnsweredAndRefusesASetThatWouldContradictIt() throws {
        let grid = try Grid(width: 256, height: 256, cellSize: 64)
        func options(durable: Bool, faults: [FaultKind], sets: [String] = []) -> SoakRun.Options {
            var load = LoadGenerator.Settings(players: 1, npcs: 0, rateHz: 1, actionShare: 0.1, stepSize: 1, seed: 1)
            load.durableActions = durable
            return SoakRun.Options(duration: 1, load: load, workers: 2, faults: faults, faultEvery: 1, auditEvery: nil,
                                   runDir: URL(fileURLWithPath: "/nonexistent"), pgDir: nil, pgScript: nil, sets: sets, grid: grid,
                                   postgres: ConnectionParameters(host: "127.0.0.1", port: 1, user: "u", database: "d"), leaseMs: 1500)
        }
        #expect(try SoakRun.settings(options(durable: true, faults: [.kill, .stop], sets: ["checkpoint.interval_ms=100"]))
            == ["checkpoint.interval_ms=100", "events.durability.entity_action=durable"])
        #expect(try SoakRun.settings(options(durable: false, faults: [.kill, .scale, .coordinator, .pgrestart]))
            == ["events.durability.entity_action=checkpointed"])
        // The caller's own setting would be overridden, or would contradict what the audit expects.
        #expect {
            try SoakRun.settings(options(durable: true, faults: [], sets: ["events.durability.entity_action=checkpointed"]))
        } throws: { "\($0)".contains("--set events.durability.entity_action=checkpointed") && "\($0)".contains("--action-durability") }
    }

    @Test func checkpointedActionsAreKeptNearAPlannedCrashOnly() {
        var acked = AckedActions(crashes: [100, 40])
        for at in [5.0, 9.9, 10.0, 39.0, 50.0, 50.1, 69.9, 71.0, 110.0, 111.0] { acked.note(entity: 1, at: at, worker: "w1") }
        #expect(acked.kept.map(\.at) == [10.0, 39.0, 50.0, 71.0, 110.0])
        var none = AckedActions(crashes: [])
        none.note(entity: 1, at: 1, worker: "w1")
        #expect(none.kept.isEmpty)
    }

    @Test func anEntityMayMissOnlyTheCheckpointedActionsItsWorkerAcknowledgedWithinACrashsLossWindow() {
        let faults = [FaultRecord(at: 10, kind: .kill, target: "w1", lossWindowMs: 1000, recoverySeconds: nil, note: ""),
                      FaultRecord(at: 30, kind: .scale, target: "w3", lossWindowMs: 0, recoverySeconds: nil, note: "")]
        let acked = [
            AckedAction(entity: 1, at: 8.9, worker: "w1"), AckedAction(entity: 1, at: 9.5, worker: "w1"),  // inside w1's window
            AckedAction(entity: 1, at: 5.0, worker: "w1"),  // saved long before the crash
            AckedAction(entity: 2, at: 9.5, worker: "w2"),  // another worker: it did not crash
            AckedAction(entity: 3, at: 29.9, worker: "w3"),  // a drain loses nothing
            AckedAction(entity: 4, at: 9.9, worker: "w1"),
        ]
        let risk = Auditor.actionsAtRisk(acked, faults: faults)
        #expect(risk == [1: 2, 4: 1])
        let created = [Self.simulated(1, acked: 10), Self.simulated(2, acked: 10), Self.simulated(3, acked: 10), Self.simulated(4, acked: 10),
                       Self.simulated(5, acked: 10)]
        let rows: [UInt64: (cell: Int64, version: UInt64, actions: UInt64, gold: Double)] = [
            1: (0, 1, 8, 8), 2: (0, 1, 9, 9), 3: (0, 1, 9, 9), 4: (0, 1, 8, 8), 5: (0, 1, 10, 10),
        ]
        let found = Auditor.checkStorage(rows: rows, created: created, memory: MemoryView(), queued: Auditor.Queued(), atRisk: risk)
        let problems = found.violations.map(\.description)
        #expect(problems.count == 3, "\(problems)")
        #expect(problems.contains { $0.hasPrefix("entity 2: 10 actions acknowledged, 9 stored") })
        #expect(problems.contains { $0.hasPrefix("entity 3: 10 actions acknowledged, 9 stored") })
        #expect(problems.contains { $0.hasPrefix("entity 4: 10 actions acknowledged, 1 of them acknowledged within a crash's loss window, 8 stored") })
        #expect(found.lostActions == 2)  // entity 1's two, within w1's window
        // Durable actions: nothing at risk, every acknowledged one must be stored.
        #expect(Auditor.checkStorage(rows: rows, created: created, memory: MemoryView(), queued: Auditor.Queued()).violations.count == 4)
    }

    @Test func lossesCountOnlyInsideACrashsLossWindow() {
        let faults = [FaultRecord(at: 10, kind: .kill, target: "w1", lossWindowMs: 1000, recoverySeconds: nil, note: "")]
        func lost(at: Double, by worker: String = "w1") -> LostMove { LostMove(entity: 1, version: 5, at: at, noticed: 12, worker: worker) }
        let inside = Auditor.checkLosses([lost(at: 9.2)], faults: faults)
        // A reply the victim sent before it died, read late by a busy generator.
        let readLate = Auditor.checkLosses([lost(at: 11.5)], faults: faults)
        let before = Auditor.checkLosses([lost(at: 5.0)], faults: faults)
        let otherWorker = Auditor.checkLosses([lost(at: 9.2, by: "w2")], faults: faults)
        let noCrash = Auditor.checkLosses([lost(at: 9.2)], faults: [])
        #expect(inside.isEmpty && readLate.isEmpty)
        #expect(before.count == 1)
        #expect(otherWorker.count == 1)
        #expect(noCrash.count == 1)
    }

    @Test func theChartDrawsBothSeriesAndMarksEachFault() {
        let seconds = (0..<30).map { t in Timeline.Second(t: t, ok: 1000 + t, errors: t == 12 ? 2 : 0, retries: 0, handoffs: 0, p99Ms: 3, p50Ms: 1) }
        let faults = [FaultRecord(at: 11.5, kind: .kill, target: "w2", lossWindowMs: 800, recoverySeconds: 1.6, note: "")]
        let svg = Chart.svg(seconds, faults: faults, title: "soak <test>")
        #expect(svg.hasPrefix("<svg"))
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 2)
        // Each series is one list of bare "x,y" pairs: a viewer draws nothing from a broken one.
        let lists = svg.components(separatedBy: "points=\"").dropFirst().map { $0.prefix { $0 != "\"" } }
        #expect(lists.count == 2)
        for list in lists {
            let pairs = list.split(separator: " ")
            #expect(pairs.count == 29)  // the last, partial second is left out
            #expect(pairs.allSatisfy { pair in
                let xy = pair.split(separator: ",")
                return xy.count == 2 && xy.allSatisfy { Double($0) != nil }
            }, "\(list.prefix(80))")
        }
        #expect(svg.contains("kill w2"))
        #expect(svg.contains("soak &lt;test&gt;"))
        #expect(svg.contains("<circle"))  // the second with errors
    }

    @Test func twentyFiveFaultsGetLabelsThatDoNotOverlapAndLatencyIsOnALogAxis() {
        var seconds = (0..<600).map { t in Timeline.Second(t: t, ok: 30_000, errors: 0, retries: 0, handoffs: 0, p99Ms: t % 50 == 7 ? 4_000 : 2, p50Ms: 1) }
        seconds.append(Timeline.Second(t: 600, ok: 12, errors: 0, retries: 0, handoffs: 0, p99Ms: 90_000, p50Ms: 1))  // partial
        let kinds: [FaultKind] = [.kill, .stop, .scale, .coordinator]
        let faults = (0..<25).map { i in
            FaultRecord(at: 20 + Double(i) * 22, kind: kinds[i % 4], target: "w\(i % 3 + 1)", lossWindowMs: 0, recoverySeconds: nil, note: "")
        }
        let svg = Chart.svg(seconds, faults: faults, title: "25 faults")
        // Every label's box (x from its anchor, 6.2 px a character, 13 px a row) overlaps no other.
        let labels = svg.components(separatedBy: "<text x=\"").dropFirst().compactMap { part -> (x: Double, y: Double, w: Double)? in
            guard part.contains("fill=\"#d00\""), let text = part.split(separator: ">").dropFirst().first?.split(separator: "<").first else { return nil }
            let numbers = part.split(separator: "\"")
            guard let x = Double(numbers[0]), let y = Double(numbers[2]) else { return nil }
            return (x, y, Double(text.count) * 6.2)
        }
        #expect(labels.count == 25)
        for (i, a) in labels.enumerated() {
            for b in labels.dropFirst(i + 1) where a.y == b.y {
                #expect(a.x + a.w <= b.x || b.x + b.w <= a.x, "labels overlap at \(a) and \(b)")
            }
        }
        #expect(svg.contains("log scale") && svg.contains(">1000</text>") && svg.contains(">0.1</text>"))
        #expect(!svg.contains(">100000</text>"))  // the partial last second (90 s p99) does not set the axis
        #expect(svg.components(separatedBy: "<title>").count - 1 >= 25)

        // Seconds with no answer break the latency line (two segments around them), marked grey.
        seconds[300].ok = 0
        seconds[301].ok = 0
        let gap = Chart.svg(seconds, faults: [], title: "gap")
        #expect(gap.components(separatedBy: "<polyline").count - 1 == 3)  // requests, and latency in two parts
        #expect(gap.components(separatedBy: "no answer in second").count - 1 == 2)
    }

    @Test func aTickSendsOncePerPeriodAndALateTurnDoesNotBurst() {
        let start = Moment.now
        var tick = SendTick(every: .milliseconds(5), start: start)
        // Turns at these offsets (µs), and whether each sends. 40 ms late at 50 ms: one send
        // then, and a whole period before the next, not eight at once.
        let turns: [(Int64, Bool)] = [(0, true), (1_000, false), (4_999, false), (5_000, true), (9_000, false),
                                      (50_000, true), (50_000, false), (54_000, false), (55_000, true)]
        let opened = turns.map { tick.opens(now: start + .microseconds($0.0)) }
        #expect(opened == turns.map(\.1))
        #expect(tick.nextOpening == start + .milliseconds(60))
        var always = SendTick(every: .zero, start: start)
        let each = [start, start, start - .seconds(1)].map { always.opens(now: $0) }
        #expect(each == [true, true, true])
        #expect(always.nextOpening == nil)
    }

    @Test func anIdleLaneSleepsUntilItsNextTickOrRetryScanNotAFixedMillisecond() {
        let now = Moment.now
        func at(_ micros: Int64) -> Moment { now + .microseconds(micros) }
        // The earliest due request waits for the tick that opens at or after it.
        #expect(LoadLane.nextWake(retryScan: at(9_000), due: at(1_000), tick: at(4_000)) == at(4_000))
        #expect(LoadLane.nextWake(retryScan: at(9_000), due: at(6_000), tick: at(4_000)) == at(6_000))
        #expect(LoadLane.nextWake(retryScan: at(2_000), due: at(1_000), tick: at(4_000)) == at(2_000))
        #expect(LoadLane.nextWake(retryScan: at(9_000), due: at(1_000), tick: nil) == at(1_000))
        #expect(LoadLane.nextWake(retryScan: .never, due: nil, tick: at(4_000)) == .never)
        // Rounded up to the poll's milliseconds, at least 1 (a wake already past), at most the cap.
        let waits = [at(3_999), at(4_000), at(4_001), now, at(-5_000), at(60_000), .never]
            .map { LoadLane.idleMilliseconds(until: $0, now: now, cap: 5) }
        #expect(waits == [4, 4, 5, 1, 1, 5, 5])
        // Moments before the reference are negative: `never` is still the cap, not an overflow.
        let early = Moment(nanos: -5_000_000)
        #expect(LoadLane.idleMilliseconds(until: .never, now: early, cap: 5) == 5)
        #expect(LoadLane.idleMilliseconds(until: early + .milliseconds(2), now: early, cap: 5) == 2)
    }

    @Test func aRequestIDNamesItsEntityAndAFramesOwnIDNamesNone() {
        let count = 11_000
        var seen = Set<UInt64>()
        for sequence: UInt64 in [1, 2, 77, 1 << 38] {
            for entity in [0, 1, 5_499, count - 1] {
                let id = LoadLane.requestID(sequence: sequence, entity: entity)
                #expect(LoadLane.entityIndex(of: id, count: count) == entity)
                #expect(seen.insert(id).inserted)  // unique across sequences and entities
            }
            let frame = LoadLane.requestID(sequence: sequence, entity: nil)
            #expect(LoadLane.entityIndex(of: frame, count: count) == nil)
            #expect(seen.insert(frame).inserted)
        }
        // An id this lane never sent (any value a reply may carry) names no entity past the lane's.
        #expect(LoadLane.entityIndex(of: LoadLane.requestID(sequence: 3, entity: count), count: count) == nil)
        #expect(LoadLane.entityIndex(of: .max, count: count) == nil)
        #expect(LoadLane.entityIndex(of: 0, count: count) == nil)
        #expect(LoadLane.entityIndex(of: UInt64(LoadLane.maxEntities), count: LoadLane.maxEntities) == LoadLane.maxEntities - 1)
    }

    @Test func theDenseIndexSetInsertsRemovesAndIteratesItsMembersOnly() {
        var set = DenseIndexSet(capacity: 10)
        for i in [3, 7, 0, 9, 3] { set.insert(i) }
        #expect(set.count == 4)
        #expect(Set(set) == [0, 3, 7, 9])
        set.remove(3)  // the last member moves into its place
        set.remove(5)  // not a member: nothing
        #expect(Set(set) == [0, 7, 9])
        #expect(!set.contains(3) && set.contains(9))
        set.remove(9)
        set.remove(0)
        set.insert(3)
        #expect(Set(set) == [3, 7])
        set.remove(7)
        set.remove(3)
        #expect(set.isEmpty && Array(set).isEmpty)
    }

    @Test func acknowledgedMovesKeepTheNewestPerEntityAndGiveBackThoseAVersionWentBackOver() {
        var acked = AckedMoves(entities: 3, depth: 4)
        func move(_ v: UInt64) -> AckedMoves.Move { .init(version: v, at: Double(v) / 10, worker: "w\(v % 2 + 1)") }
        for v: UInt64 in 1...6 { acked.append(move(v), for: 1) }  // past the depth: the oldest go
        acked.append(move(9), for: 2)
        #expect(acked.moves(of: 1).map(\.version) == [3, 4, 5, 6])
        #expect(acked.count(of: 0) == 0 && acked.moves(of: 2) == [move(9)])
        // The cluster answered version 5 again: 5 and 6 were lost, oldest first; the others stay.
        #expect(acked.removeAtOrAbove(5, for: 1) == [move(5), move(6)])
        #expect(acked.moves(of: 1).map(\.version) == [3, 4])
        acked.append(move(5), for: 1)
        for v: UInt64 in 6...8 { acked.append(move(v), for: 1) }
        #expect(acked.moves(of: 1).map(\.version) == [5, 6, 7, 8])  // wrapped around its slots
        #expect(acked.removeAtOrAbove(1, for: 1).count == 4 && acked.count(of: 1) == 0)
        #expect(acked.removeAtOrAbove(1, for: 0).isEmpty)
        #expect(acked.moves(of: 2) == [move(9)])  // its neighbours' slots untouched
        // A worker first seen late (scaled out) keeps its name.
        let late = AckedMoves.Move(version: 10, at: 2.5, worker: "w3")
        acked.append(late, for: 0)
        #expect(acked.moves(of: 0) == [late] && acked.moves(of: 2) == [move(9)])
    }
}
