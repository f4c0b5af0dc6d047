import Logging
import Postgres

/// Server sessions of the checkpoint writer's lost connections. A write whose connection broke
/// has an unknown outcome, and its session may still be running it: it can commit after the
/// writer has moved on. A release may leave out an entity only because storage does not name a
/// given cell for it (`CheckpointBatch.optionalEntities`), and such a late commit could put the
/// entity's row into a given cell after the release read it. So while any such session is still
/// alive, releases write every unsaved entity, as they did before they were narrowed.
struct OrphanedSessions {
    private var pids: Set<Int32> = []

    /// The connection of session `pid` broke.
    mutating func lost(_ pid: Int32) {
        if pid != 0 { pids.insert(pid) }
    }

    /// Whether every lost session has ended, asked on `connection` (`pg_stat_activity`). A pid the
    /// server reused for a new session counts as alive until it ends: only slower, never unsafe.
    /// A failed question counts as not all gone.
    mutating func allGone(asking connection: Connection, logger: Logger) -> Bool {
        guard !pids.isEmpty else { return true }
        do {
            let alive = try connection.query("SELECT pid FROM pg_stat_activity WHERE pid = ANY($1::int4[])",
                                             [.text(ArrayLiteral.integers(pids.sorted().map(Int64.init)))])
            var still = Set<Int32>()
            for row in 0..<alive.rowCount { still.insert(Int32(truncatingIfNeeded: try alive.int64(row, 0))) }
            pids = still
        } catch {
            logger.warning("cannot tell whether lost checkpoint sessions ended; this release writes every unsaved entity", metadata: ["error": "\(error)"])
            return false
        }
        if !pids.isEmpty {
            logger.info("a lost checkpoint session may still commit; this release writes every unsaved entity", metadata: ["sessions": "\(pids.sorted())"])
        }
        return pids.isEmpty
    }
}
