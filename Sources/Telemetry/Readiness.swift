import Synchronization

/// Whether a process serves now, and why not: what /readyz answers. The process's own thread
/// sets it; the HTTP server's threads read it.
public final class Readiness: Sendable {
    private let state = Mutex<(ready: Bool, why: String)>((false, "starting"))

    public init() {}

    public func set(ready: Bool, why: String = "") {
        state.withLock { $0 = (ready, ready ? "" : why) }
    }

    public var current: (ready: Bool, why: String) { state.withLock { $0 } }
}
