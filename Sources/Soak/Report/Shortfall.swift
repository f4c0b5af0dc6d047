/// Where a run answered less than it asked: each second's shortfall (the asked rate less what
/// was answered in it; negative while the cluster catches up) charged to the last fault before
/// it, and the rate of steady seconds, those `settleSeconds` or more after the start and after
/// every fault, by how many workers served then. The steady rate tells a cluster short of CPU
/// (steady seconds below the asked rate too) from one that loses only around its faults.
/// The shortfalls add up to what the run asked less what it answered; the last second, which
/// also holds the answers that came after the load stopped, is not a steady one.
public struct Shortfall: Sendable, Codable, Equatable {
    public struct ByFault: Sendable, Codable, Equatable {
        /// A fault kind, or "start" for the seconds before the first fault.
        public let kind: String
        public let faults: Int
        public let seconds: Int
        public let requestsShort: Int
    }

    public struct Steady: Sendable, Codable, Equatable {
        public let workers: Int
        public let seconds: Int
        public let answeredPerSecond: Double
    }

    public let settleSeconds: Int
    /// Seconds after the start and after each fault before the run counts as steady again.
    public static let defaultSettleSeconds = 5
    public let requestsShort: Int
    public let byFault: [ByFault]
    public let steady: [Steady]

    /// - Parameters:
    ///   - workers: how many workers served at the start; a fault's `workersAfter` changes it.
    public init(timeline: [Timeline.Second], faults: [FaultRecord], askedPerSecond: Double, workers: Int, settleSeconds: Int = Shortfall.defaultSettleSeconds) {
        self.settleSeconds = settleSeconds
        let faults = faults.sorted { $0.at < $1.at }
        var short: [String: (faults: Int, seconds: Int, requests: Double)] = [:]
        for f in faults { short[f.kind.rawValue, default: (0, 0, 0)].faults += 1 }
        var steadyOK: [Int: (seconds: Int, ok: Int)] = [:]
        var next = 0  // the first fault not yet before the current second
        var last: FaultRecord?
        var serving = workers
        var total = 0.0
        let lastSecond = timeline.last?.t
        for second in timeline {
            // A fault during this second counts as before it: the second shows its effect.
            while next < faults.count, faults[next].at < Double(second.t + 1) {
                last = faults[next]
                serving = faults[next].workersAfter ?? serving
                next += 1
            }
            let missing = askedPerSecond - Double(second.ok)
            total += missing
            let kind = last?.kind.rawValue ?? "start"
            short[kind, default: (0, 0, 0)].seconds += 1
            short[kind, default: (0, 0, 0)].requests += missing
            if Self.isSteady(second: second.t, lastFaultAt: last?.at, settleSeconds: settleSeconds) && second.t != lastSecond {
                steadyOK[serving, default: (0, 0)].seconds += 1
                steadyOK[serving, default: (0, 0)].ok += second.ok
            }
        }
        requestsShort = Int(total.rounded())
        byFault = short
            .map { ByFault(kind: $0.key, faults: $0.value.faults, seconds: $0.value.seconds, requestsShort: Int($0.value.requests.rounded())) }
            .sorted { ($0.kind == "start" ? 0 : 1, $0.kind) < ($1.kind == "start" ? 0 : 1, $1.kind) }
        steady = steadyOK.sorted { $0.key < $1.key }.map { n, s in
            Steady(workers: n, seconds: s.seconds, answeredPerSecond: Double(s.ok) / Double(s.seconds))
        }
    }

    /// Whether second `second` (from `second` to `second + 1` s into the load) is a steady one:
    /// `settleSeconds` or more after the start and after the last fault before its end
    /// (`lastFaultAt`, seconds into the load; nil: none yet). Known once the second ends: the
    /// generator sorts each second's latencies by it as the run goes (`SoakReport.steadyLatency`).
    /// The run's last second, which holds the answers that came after the load stopped, is never
    /// steady; the caller knows which it is.
    public static func isSteady(second: Int, lastFaultAt: Double?, settleSeconds: Int) -> Bool {
        let sinceFault = lastFaultAt.map { Double(second) - $0 } ?? .infinity
        return second >= settleSeconds && sinceFault >= Double(settleSeconds)
    }

    /// The summary table's rows: the total with its share by fault, and the steady rates.
    var rows: [(String, String)] {
        let parts = byFault.map { b in
            b.kind == "start" ? "before any fault \(b.requestsShort)"
                : "after \(b.faults) \(b.kind) \(b.requestsShort) (\(b.requestsShort / b.faults) each)"  // a kind's entry: 1 fault at least
        }
        let total = requestsShort >= 0 ? "\(requestsShort) requests fewer than asked" : "none, \(-requestsShort) more than asked"
        var rows = [("shortfall", total + (parts.isEmpty ? "" : " (signed, by the fault before): " + parts.joined(separator: ", ")))]
        let steadyText = steady.map {
            String(format: "%d workers %.0f/s over %d s", $0.workers, $0.answeredPerSecond, $0.seconds)
        }
        rows.append(("steady", (steadyText.isEmpty ? "no second" : steadyText.joined(separator: ", "))
            + " (seconds \(settleSeconds) s or more after the start and after any fault)"))
        return rows
    }
}
