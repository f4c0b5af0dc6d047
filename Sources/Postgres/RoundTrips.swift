import Foundation
import Synchronization

/// Storage round trips this process made (queries, pipelines, scripts), by the role of the
/// thread that made them. A worker reports them in its monitor, which is how an operator (and a
/// test) sees that its request thread never waits on PostgreSQL.
public enum RoundTrips {
    private static let counts = Mutex<[String: UInt64]>([:])
    private static let roleKey = "cellcluster.thread-role"

    /// Names the calling thread's role in the counts ("storage-io", "checkpoint-writer", …).
    /// A thread that never names itself counts as "main" (the process's main thread) or "other".
    public static func nameThisThread(_ role: String) {
        Thread.current.threadDictionary[roleKey] = role
    }

    /// Counts one round trip for the calling thread.
    static func record() {
        let role = Thread.current.threadDictionary[roleKey] as? String ?? (Thread.isMainThread ? "main" : "other")
        counts.withLock { $0[role, default: 0] &+= 1 }
    }

    /// Round trips so far, by thread role.
    public static func byThread() -> [String: UInt64] { counts.withLock { $0 } }
}
