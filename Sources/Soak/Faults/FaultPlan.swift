import WorldCore

/// The faults a soak injects, and when: drawn from the seed, so a run can be repeated exactly.
public enum FaultKind: String, Sendable, CaseIterable, Codable {
    /// SIGKILL a worker, start it again (same id) two seconds later.
    case kill
    /// SIGSTOP a worker for longer than its lease, then SIGCONT: it must come back fenced.
    case stop
    /// Alternately start one more worker, and drain (SIGTERM) the newest one.
    case scale
    /// SIGKILL the coordinator and start it again on its endpoint.
    case coordinator
    /// Restart PostgreSQL (needs the private server's folder: `--pg-dir`).
    case pgrestart = "pg-restart"
    /// Cut a worker's network-namespace link for longer than its lease, then restore it.
    case netcut

    /// The worker it hits loses what it has not saved: killed, or fenced after its lease ran out
    /// (what it acknowledged within its loss window may be gone).
    public var crashesAWorker: Bool { self == .kill || self == .stop || self == .netcut }
}

public struct PlannedFault: Sendable, Equatable, Codable {
    /// Seconds after the load started.
    public let at: Double
    public let kind: FaultKind
    /// Which worker, as an index into the live workers at that moment (modulo their count).
    public let pick: Int
}

extension SeededRandom {
    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
}

public enum FaultPlan {
    /// Faults of the given kinds, one every `every` seconds (with up to a quarter of it in
    /// jitter) from `every` on, none in the last `quiet` seconds: the run ends settled.
    public static func make(kinds: [FaultKind], duration: Double, every: Double, quiet: Double, seed: UInt64) -> [PlannedFault] {
        guard !kinds.isEmpty, every > 0 else { return [] }
        var random = SeededRandom(seed: seed ^ 0xFA01_7F00)
        var faults: [PlannedFault] = []
        var t = every
        var index = 0
        while t < duration - quiet && faults.count < 10_000 {
            let jitter = (random.unit() - 0.5) * every / 2
            faults.append(PlannedFault(at: max(1, t + jitter), kind: kinds[index % kinds.count], pick: random.below(1 << 16)))
            index += 1
            t += every
        }
        return faults
    }
}
