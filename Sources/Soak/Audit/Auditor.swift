import Client
import Foundation
import Postgres
import Wire
import WorldCore
import ZeroMQ

/// What the soak holds the cluster to. Every entity the soak created exists exactly once: in
/// one worker's memory, in a cell that worker owns, and after the final checkpoint once in
/// PostgreSQL, in that same cell; every acknowledged action is stored (and no more than were
/// sent: a durable one from its commit on, a checkpointed one by the final checkpoint but for
/// those a crash lost); acknowledged moves and checkpointed actions lost later lie within the
/// loss window of a crash.
public struct Violation: Sendable, Codable, CustomStringConvertible {
    public let entity: UInt64?
    public let problem: String
    public let history: [String]
    public var description: String {
        var text = entity.map { "entity \($0): \(problem)" } ?? problem
        if !history.isEmpty { text += "\n      " + history.joined(separator: "\n      ") }
        return text
    }
}

/// An acknowledged move the cluster lost later (a later answer carried an older version).
public struct LostMove: Sendable, Equatable {
    public let entity: UInt64
    public let version: UInt64
    /// When it was acknowledged, and when the loss showed (seconds into the run).
    public let at: Double
    public let noticed: Double
    /// The worker that acknowledged it.
    public let worker: String
    /// The answer that showed the loss: which worker gave it, at which version (0: not known).
    public var noticedBy = ""
    public var answeredVersion: UInt64 = 0

    public init(entity: UInt64, version: UInt64, at: Double, noticed: Double, worker: String, noticedBy: String = "", answeredVersion: UInt64 = 0) {
        self.entity = entity
        self.version = version
        self.at = at
        self.noticed = noticed
        self.worker = worker
        self.noticedBy = noticedBy
        self.answeredVersion = answeredVersion
    }
}

/// One worker's memory as its audit answer lists it.
public struct MemoryView: Sendable {
    /// Entity -> (worker, cell), every holder.
    public var holders: [UInt64: [(worker: String, cell: Int64)]] = [:]
    public var givingAway: [String: Set<Int64>] = [:]
    /// Cells each worker's map gives it that it has not taken in yet.
    public var receiving: [String: Set<Int64>] = [:]
    public var unanswered: [String] = []
    public var lossWindowMs: [String: UInt64] = [:]
    /// The map epoch each worker answered under.
    public var epochs: [String: UInt64] = [:]

    /// Every worker answered under `epoch` and none is in the middle of giving cells away or
    /// taking them in: a picture of the cluster at rest.
    public func isAtRest(epoch: UInt64) -> Bool {
        unanswered.isEmpty && epochs.values.allSatisfy { $0 == epoch } && givingAway.values.allSatisfy(\.isEmpty)
            && receiving.values.allSatisfy(\.isEmpty)
    }
}

public enum Auditor {
    /// Asks each worker for every entity in its memory.
    public static func readMemory(endpoints: [String: String], context: Context, timeout: Duration = .seconds(10)) -> MemoryView {
        var view = MemoryView()
        for (worker, endpoint) in endpoints.sorted(by: { $0.key < $1.key }) {
            guard let client = try? CellClient(context: context, endpoint: endpoint, name: "soak-audit:\(getpid()):\(worker)"),
                let id = try? client.send(.auditRequest(.init()))
            else {
                view.unanswered.append(worker)
                continue
            }
            let deadline = ContinuousClock.now + timeout
            var got = false
            while let envelope = try? client.receive(until: deadline) {
                guard envelope.requestID == id, case .auditReply(let reply)? = envelope.body else { continue }
                for e in reply.entities { view.holders[e.entityID, default: []].append((reply.workerID, e.cellID)) }
                view.givingAway[reply.workerID] = Set(reply.givingAway)
                view.receiving[reply.workerID] = Set(reply.receiving)
                view.lossWindowMs[reply.workerID] = reply.oldestUnsavedAgeMs
                view.epochs[reply.workerID] = reply.mapEpoch
                got = true
                break
            }
            if !got { view.unanswered.append(worker) }
        }
        return view
    }

    /// The strict memory audit: each created entity held exactly once, in a cell its holder owns
    /// (or, for one whose spawn still waits in an inactive cell's queue, by nobody).
    static func checkMemory(_ view: MemoryView, created: [SimulatedEntity], map: PartitionMap, queued: Queued) -> [Violation] {
        var violations: [Violation] = view.unanswered.map { Violation(entity: nil, problem: "worker \($0) did not answer the audit", history: []) }
        for e in created {
            let holders = view.holders[e.id.raw] ?? []
            let history = e.history.map(\.description)
            if holders.isEmpty {
                // An NPC's inactive cell may be evicted (the cache policy keeps saved, inactive
                // cells only while there is room): then storage alone holds it, which the
                // storage audit checks. A player keeps its cells active: it must be in memory.
                if e.kind == .player && !queued.spawns.contains(e.id.raw) {
                    violations.append(Violation(entity: e.id.raw, problem: "player in no worker's memory", history: history))
                }
            } else if holders.count > 1 {
                violations.append(Violation(entity: e.id.raw, problem: "in the memory of \(holders.count) workers: \(holders.map { "\($0.worker) (cell \($0.cell))" })", history: history))
            } else if let h = holders.first, map.owner(of: CellID(h.cell)) != h.worker {
                violations.append(Violation(entity: e.id.raw, problem: "held by \(h.worker) in cell \(h.cell), which the map gives to \(map.owner(of: CellID(h.cell)))", history: history))
            }
        }
        return violations
    }

    /// The highest entity id stored: a soak's entities start above it.
    public static func maxEntityID(_ parameters: ConnectionParameters) throws -> UInt64 {
        let connection = try Connection(parameters)
        defer { connection.close() }
        return UInt64(try connection.query("SELECT coalesce(max(entity_id), 0) FROM entity_states").int64(0, 0))
    }

    /// The stored rows of entities base+1...base+count: id -> (cell, version, actions, gold).
    static func readRows(_ parameters: ConnectionParameters, base: UInt64, count: Int) throws -> [UInt64: (cell: Int64, version: UInt64, actions: UInt64, gold: Double)] {
        let connection = try Connection(parameters)
        defer { connection.close() }
        let r = try connection.query("""
            SELECT entity_id, cell_id, version, actions, coalesce((stats->>'gold')::float8, 0)
            FROM entity_states WHERE entity_id BETWEEN $1::int8 + 1 AND $1::int8 + $2::int8
            """, [.int64(Int64(base)), .int64(Int64(count))])
        var rows: [UInt64: (Int64, UInt64, UInt64, Double)] = [:]
        for row in 0..<r.rowCount {
            rows[UInt64(try r.int64(row, 0))] = (try r.int64(row, 1), UInt64(try r.int64(row, 2)), UInt64(try r.int64(row, 3)), try r.double(row, 4))
        }
        return rows
    }

    /// What the storage audit found: its violations, and how many acknowledged actions are
    /// missing within what crashes may have lost (`actionsAtRisk`).
    struct StorageFindings {
        var violations: [Violation] = []
        var lostActions: UInt64 = 0
    }

    /// After the final checkpoint: one row each, in the cell memory had it in, with every
    /// acknowledged action and no more than were sent. An entity may miss as many acknowledged
    /// actions as `atRisk` gives it (checkpointed ones a crash may have lost), no more.
    static func checkStorage(
        rows: [UInt64: (cell: Int64, version: UInt64, actions: UInt64, gold: Double)], created: [SimulatedEntity], memory: MemoryView,
        queued: Queued, atRisk: [UInt64: UInt64] = [:]
    ) -> StorageFindings {
        var found = StorageFindings()
        /// Whether `have` of the entity's acknowledged actions are all there or within what a crash lost.
        func accounted(_ e: SimulatedEntity, _ have: UInt64) -> Bool {
            guard have < e.ackedActions else { return true }
            let missing = e.ackedActions - have
            guard missing <= atRisk[e.id.raw] ?? 0 else { return false }
            found.lostActions += missing
            return true
        }
        for e in created {
            let history = e.history.map(\.description)
            let waiting = queued.actions[e.id.raw] ?? 0
            /// What a crash may have lost of them, for a violation's text.
            func risk() -> String { atRisk[e.id.raw].map { ", \($0) of them acknowledged within a crash's loss window" } ?? "" }
            guard let row = rows[e.id.raw] else {
                if !queued.spawns.contains(e.id.raw) {
                    found.violations.append(Violation(entity: e.id.raw, problem: "not in PostgreSQL after the final checkpoint", history: history))
                } else if !accounted(e, waiting) {
                    found.violations.append(Violation(entity: e.id.raw, problem: "spawn queued, \(e.ackedActions) actions acknowledged\(risk()), \(waiting) queued", history: history))
                }
                continue
            }
            if let held = memory.holders[e.id.raw], held.count == 1, held[0].cell != row.cell {
                found.violations.append(Violation(entity: e.id.raw, problem: "stored in cell \(row.cell), but \(held[0].worker) held it in cell \(held[0].cell)", history: history))
            }
            // Actions acknowledged for an entity in an inactive cell wait in its queue (persisted).
            if !accounted(e, row.actions + waiting) {
                found.violations.append(Violation(entity: e.id.raw, problem: "\(e.ackedActions) actions acknowledged\(risk()), \(row.actions) stored and \(waiting) queued", history: history))
            } else if row.actions + waiting > e.ackedActions + e.unknownActions {
                found.violations.append(Violation(entity: e.id.raw, problem: "\(row.actions) actions stored and \(waiting) queued, but only \(e.ackedActions) acknowledged and \(e.unknownActions) unanswered", history: history))
            }
            if row.gold != Double(row.actions) {
                found.violations.append(Violation(entity: e.id.raw, problem: "gold \(row.gold) does not match its \(row.actions) actions", history: history))
            }
            if !e.uncertainMoves && row.version < e.lastAckedVersion {
                found.violations.append(Violation(entity: e.id.raw, problem: "stored version \(row.version) is older than the acknowledged \(e.lastAckedVersion)", history: history))
            }
        }
        return found
    }

    /// Events still queued for inactive cells after the final checkpoint: spawns and actions, by entity.
    public struct Queued: Sendable {
        public var spawns: Set<UInt64> = []
        public var actions: [UInt64: UInt64] = [:]
    }

    static func readQueued(_ parameters: ConnectionParameters) throws -> Queued {
        let connection = try Connection(parameters)
        defer { connection.close() }
        let r = try connection.query("SELECT payload FROM deferred_events WHERE event_type IN (2, 5)")
        var queued = Queued()
        for row in 0..<r.rowCount {
            guard let bytes = r.bytea(row, 0), let event = try? Cellcluster_V1_Event(serializedBytes: bytes) else { continue }
            switch event.body {
            case .spawnEntity(let s)?: queued.spawns.insert(s.entity.entityID)
            case .entityAction(let a)?: queued.actions[a.entityID, default: 0] += 1
            default: break
            }
        }
        return queued
    }

    /// How late after a crash the generator may still read a reply the victim sent before it (its
    /// loop lags when the cluster is saturated). A killed worker is back only after 2 s, a
    /// stopped one stops answering when its lease lapses, so no newer answer of theirs is mistaken
    /// for an older one.
    static let replyLag = 2.0

    /// Whether fault `f` crashed (or paused, or cut off) `worker` such that what it acknowledged
    /// at `at` may be lost: within the loss window it reported before, or a reply read late after.
    static func withinLossWindow(_ f: FaultRecord, at: Double, worker: String) -> Bool {
        f.kind.crashesAWorker && f.target == worker
            && at >= f.at - Double(f.lossWindowMs) / 1000 - 1.5 && at <= f.at + replyLag
    }

    /// Per entity, how many of its acknowledged checkpointed actions a crash may have lost: those
    /// acknowledged by the crashed worker within its loss window.
    static func actionsAtRisk(_ acked: [AckedAction], faults: [FaultRecord]) -> [UInt64: UInt64] {
        var risk: [UInt64: UInt64] = [:]
        for a in acked where faults.contains(where: { withinLossWindow($0, at: a.at, worker: a.worker) }) {
            risk[a.entity, default: 0] += 1
        }
        return risk
    }

    /// Acknowledged moves the cluster lost must have been acknowledged by a crashed (or paused)
    /// worker, within the loss window it reported before the crash.
    static func checkLosses(_ lost: [LostMove], faults: [FaultRecord], history: (UInt64) -> [String] = { _ in [] }) -> [Violation] {
        lost.compactMap { l in
            let explained = faults.contains { withinLossWindow($0, at: l.at, worker: l.worker) && l.noticed >= $0.at }
            return explained ? nil : Violation(
                entity: l.entity,
                problem: String(format: "acknowledged move (version %llu at %.3f s, by %@) lost outside any crash's loss window", l.version, l.at, l.worker)
                    + (l.noticedBy.isEmpty ? "" : String(format: " (seen at %.3f s: %@ answered version %llu)", l.noticed, l.noticedBy, l.answeredVersion)),
                history: history(l.entity))
        }
    }
}
