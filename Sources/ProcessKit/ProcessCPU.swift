import Foundation

/// CPU time (user + system, every thread) of processes: what "CPU per answered request" is made of.
public enum ProcessCPU {
    /// This process's, since it started.
    public static func ofThisProcess() -> Duration {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return .seconds(ts.tv_sec) + .nanoseconds(ts.tv_nsec)
    }

    /// Another process's, from `/proc/PID/stat`; nil when it is gone (or not Linux).
    public static func of(pid: Int32) -> Duration? {
        stat(pid).map(\.cpu)
    }

    /// A process and every process whose parent it is (PostgreSQL: the postmaster and its
    /// backends, WAL writer and checkpointer), with the time of children it has reaped.
    public static func ofTree(root pid: Int32) -> Duration? {
        guard let root = stat(pid) else { return nil }
        var total = root.cpu + root.reaped
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let child = Int32(entry), child != pid, let s = stat(child), s.parent == pid else { continue }
            total += s.cpu
        }
        return total
    }

    /// The fields of `/proc/PID/stat` this needs. The command name (field 2) is in parentheses
    /// and may hold spaces, so fields are counted from the last ')'.
    static func stat(_ pid: Int32) -> (parent: Int32, cpu: Duration, reaped: Duration)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state): field n is fields[n - 3].
        guard fields.count > 14, let parent = Int32(fields[1]), let user = Int64(fields[11]), let system = Int64(fields[12]),
            let childUser = Int64(fields[13]), let childSystem = Int64(fields[14])
        else { return nil }
        let hz = Int64(max(1, sysconf(Int32(_SC_CLK_TCK))))
        return (parent, .microseconds((user + system) * 1_000_000 / hz), .microseconds((childUser + childSystem) * 1_000_000 / hz))
    }
}
