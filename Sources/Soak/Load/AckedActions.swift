/// Acknowledged checkpointed actions near a planned crash (`LoadGenerator.Settings.crashTimes`):
/// which worker answered each, and when. A crash loses what its worker acknowledged within its
/// loss window (unsaved, answered from memory); the audit allows an entity as many missing
/// actions as it had acknowledged there (`Auditor.actionsAtRisk`). Durable actions are not kept:
/// a commit stores each before its answer, and the audit holds them to every one.
struct AckedActions {
    /// Kept when acknowledged this long before a planned crash, or `after` it: a loss window of
    /// seconds and a crash injected a little late fit well inside.
    static let before = 30.0, after = 10.0

    /// Planned crashes, seconds into the run.
    let crashes: [Double]
    private(set) var kept: [AckedAction] = []

    /// Keeps an action acknowledged at `at` by `worker` if a crash is planned near it.
    mutating func note(entity: UInt64, at: Double, worker: String) {
        guard crashes.contains(where: { at >= $0 - Self.before && at <= $0 + Self.after }) else { return }
        kept.append(AckedAction(entity: entity, at: at, worker: worker))
    }
}

/// One acknowledged checkpointed action: its entity, when (seconds into the run) and by which worker.
struct AckedAction: Sendable, Equatable {
    let entity: UInt64
    let at: Double
    let worker: String
}
