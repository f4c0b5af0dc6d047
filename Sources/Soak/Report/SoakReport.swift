import Foundation

/// One injected fault, as it happened.
public struct FaultRecord: Sendable, Codable {
    public let at: Double
    public let kind: FaultKind
    public let target: String
    /// The victim's oldest unsaved change just before (what a crash may lose).
    public let lossWindowMs: UInt64
    /// Until the first answer from a cell the victim owned; nil when none came (or not a worker fault).
    public var recoverySeconds: Double?
    public var note: String
    /// A coordinator fault: until the standby answered as the leader (nil: no standby, or it did not).
    public var takeoverSeconds: Double?
    /// Workers in the cluster once the fault is over (a victim restarted counts; nil: not known).
    public var workersAfter: Int?
}

/// What `cellcluster soak` writes to report.json.
public struct SoakReport: Sendable, Codable {
    public struct Latency: Sendable, Codable {
        public let p50Ms: Double
        public let p90Ms: Double
        public let p99Ms: Double
        public let p999Ms: Double
        public let maxMs: Double

        var text: String {
            String(format: "p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  p99.9 %.2f ms  max %.0f ms", p50Ms, p90Ms, p99Ms, p999Ms, maxMs)
        }
    }
    public struct Storage: Sendable, Codable {
        /// Changes applied in memory, and the workers' storage operations (their monitors):
        /// write transactions (checkpoints, durable commits, releases) and reads (batched cell
        /// loads, entity lookups, reads answered from storage).
        public let updates: UInt64
        public let dbWrites: UInt64
        public let dbReads: UInt64
        /// Round trips to PostgreSQL by the worker thread that made them, summed over workers
        /// ("main" is the request thread).
        public let callsByThread: [String: UInt64]
        public var reduction: Double { updates == 0 ? 0 : 1 - Double(dbWrites) / Double(updates) }
        /// Reads and writes together, as a share of updates.
        public var operationsPerUpdate: Double { updates == 0 ? 0 : Double(dbWrites + dbReads) / Double(updates) }
    }
    /// The workers' oldest unsaved change, sampled once a second from each worker's status
    /// (what a crash at that moment would have lost).
    public struct LossWindow: Sendable, Codable {
        public let samples: Int
        public let p50Ms: UInt64
        public let p99Ms: UInt64
        public let maxMs: UInt64

        public init(_ samples: [UInt64]) {
            let sorted = samples.sorted()
            func at(_ p: Double) -> UInt64 { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))] }
            self.samples = sorted.count
            p50Ms = at(0.5)
            p99Ms = at(0.99)
            maxMs = sorted.last ?? 0
        }
    }
    /// CPU time (user + system) per answered request, in microseconds, over the load: each
    /// worker's (from its status replies), all workers' together, the generator's and
    /// PostgreSQL's (divided by every answer the generator received). Nil: not measured.
    public struct CPU: Sendable, Codable {
        public let workersUsPerAnswer: Double?
        public let byWorkerUsPerAnswer: [String: Double]
        public let generatorUsPerAnswer: Double?
        public let postgresUsPerAnswer: Double?

        var line: String {
            func us(_ v: Double?) -> String { v.map { String(format: "%.1f µs", $0) } ?? "-" }
            let each = byWorkerUsPerAnswer.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.1f", $0.value))" }
            return "workers \(us(workersUsPerAnswer))\(each.isEmpty ? "" : " (" + each.joined(separator: ", ") + ")")"
                + "  generator \(us(generatorUsPerAnswer))  postgres \(us(postgresUsPerAnswer))  (user + system time per answered request)"
        }
    }
    /// The durable changes that committed during the load, and where their time went in the
    /// workers on average: waiting for their commit to start (a group gathering, the writes
    /// before it) and the commit itself.
    public struct Durable: Sendable, Codable {
        public let changes: UInt64
        public let commits: UInt64
        public let queuedMsMean: Double
        public let commitMsMean: Double

        var line: String {
            let per = commits == 0 ? 0 : Double(changes) / Double(commits)
            return "\(changes) changes in \(commits) commits (\(String(format: "%.1f", per)) a commit); a change waited "
                + String(format: "%.2f ms for its commit and %.2f ms in it (means, in the workers)", queuedMsMean, commitMsMean)
        }
    }
    public struct Audit: Sendable, Codable {
        public let entitiesChecked: Int
        public let lostAcknowledgedMoves: Int
        /// Acknowledged checkpointed actions missing from storage, each within a crash's loss window.
        public let lostAcknowledgedActions: Int
        public let violations: [Violation]
        public var clean: Bool { violations.isEmpty }
    }

    public let seed: UInt64
    public let durationSeconds: Double
    public let players: Int
    public let npcs: Int
    public let targetRatePerSecond: Double
    /// How the generator sent: lanes, frames, tick (`LoadGenerator.Settings.sending`).
    public let sending: String
    /// When an action was answered: after its commit, or from memory (`LoadGenerator.Settings.actions`).
    public let actions: String
    public let requests: Int
    public let answered: Int
    public let throughputPerSecond: Double
    public let latency: Latency
    /// Latency by kind of request (see `LoadGenerator.histogramsByKind`).
    public let latencyByKind: [String: Latency]
    /// The latency of the answers received in the steady seconds (`Shortfall.isSteady`: 5 s or
    /// more after the start and after each fault, the last second left out), over every kind and
    /// by kind: the run's latency without its start (spawns, first loads, connections) and
    /// without each fault's recovery. Nil: no steady second.
    public let steadyLatency: Latency?
    public let steadyLatencyByKind: [String: Latency]
    public let steadySeconds: Int
    /// From when each new request was due to when it was sent (see `LoadGenerator.scheduleDelay`).
    public let scheduleDelay: Latency
    public let retries: Int
    /// Retries by why: the answer's code, "no answer" (the attempt timed out) or "worker left the map".
    public let retriesByReason: [String: Int]
    public let errors: Int
    public let errorSamples: [String]
    public let handoffs: Int
    public let behindSchedule: Int
    public let faults: [FaultRecord]
    public let storage: Storage
    public let lossWindow: LossWindow
    public let cpu: CPU?
    /// Nil when no durable change committed during the load.
    public let durable: Durable?
    public let audit: Audit
    public let timeline: [Timeline.Second]
    public let shortfall: Shortfall

    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    /// The summary table printed at the end.
    public var table: String {
        var rows: [(String, String)] = [
            ("duration", String(format: "%.0f s", durationSeconds)),
            ("simulated", "\(players) players, \(npcs) NPCs at \(String(format: "%.0f", targetRatePerSecond)) requests/s in all"),
            ("sending", sending),
            ("actions", actions),
            ("answered", "\(answered) of \(requests) requests, \(String(format: "%.0f", throughputPerSecond))/s"),
            ("latency", latency.text),
        ]
        for (kind, l) in latencyByKind.sorted(by: { $0.key < $1.key }) {
            rows.append(("  " + kind, l.text))
        }
        if let steadyLatency {
            rows.append(("steady latency", steadyLatency.text + "  (\(steadySeconds) steady s)"))
            for (kind, l) in steadyLatencyByKind.sorted(by: { $0.key < $1.key }) { rows.append(("  " + kind, l.text)) }
        } else {
            rows.append(("steady latency", "no steady second (\(shortfall.settleSeconds) s or more after the start and after any fault)"))
        }
        rows.append(("schedule delay", scheduleDelay.text + " (due to sent; not part of the latency)"))
        rows += [
            ("handoffs", "\(handoffs)"),
            ("retries", "\(retries)" + (retriesByReason.isEmpty ? "" : "  (" + retriesByReason.sorted { ($1.value, $0.key) < ($0.value, $1.key) }
                .map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")")),
            ("errors", "\(errors)"),
            ("db writes", "\(storage.dbWrites) transactions for \(storage.updates) updates (\(String(format: "%.1f", storage.reduction * 100)) % fewer)"),
            ("db reads", "\(storage.dbReads) (reads and writes: \(String(format: "%.2f", storage.operationsPerUpdate * 100)) % of updates)"),
            ("db calls", storage.callsByThread.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")),
        ]
        if let cpu { rows.append(("cpu", cpu.line)) }
        if let durable { rows.append(("durable commits", durable.line)) }
        rows.append(("loss window", "p50 \(lossWindow.p50Ms) ms  p99 \(lossWindow.p99Ms) ms  max \(lossWindow.maxMs) ms (oldest unsaved change, \(lossWindow.samples) samples)"))
        rows += shortfall.rows
        if behindSchedule > 0 { rows.append(("behind", "\(behindSchedule) requests started over 1 s late (the generator or cluster was saturated)")) }
        for f in faults {
            let recovery = f.recoverySeconds.map { String(format: "served again after %.2f s", $0) }
                ?? f.takeoverSeconds.map { String(format: "a coordinator led again after %.2f s", $0) } ?? "-"
            rows.append(("fault", String(format: "%7.1f s  %@ %@  loss window %llu ms  %@ %@", f.at, f.kind.rawValue, f.target, f.lossWindowMs, recovery, f.note)))
        }
        rows.append(("audit", audit.clean
            ? "clean: \(audit.entitiesChecked) entities, each once in memory and once in PostgreSQL; \(audit.lostAcknowledgedMoves) acknowledged moves and \(audit.lostAcknowledgedActions) acknowledged actions lost, all within a crash's loss window"
            : "\(audit.violations.count) VIOLATIONS"))
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n")
    }
}
