import Foundation
import Synchronization

/// A coordinator and its workers as real processes: the one way tests, benchmarks and the soak
/// start a cluster. Workers come and go (started later, killed, paused, restarted); the
/// coordinator can be restarted on its own endpoint. Every process is stopped by its own PID.
public final class ProcessCluster: Sendable {
    public struct Options: Sendable {
        /// Workers started at once, as w1…wN.
        public var workers: Int
        /// `--set` overrides (key=value) for every process; `workers.count` is added.
        public var settings: [String] = []
        /// Extra environment for every process (PGDATABASE, PGPORT, …).
        public var environment: [String: String] = [:]
        /// Logs, outputs and PID files go here when set; otherwise output is kept in memory.
        public var runDirectory: URL?
        /// `--log-level` for every process, when set.
        public var logLevel: String?
        /// Where the coordinator and workers bind.
        public var coordinatorBind = "tcp://127.0.0.1:0"
        public var workerBind = "tcp://127.0.0.1:0"
        /// More arguments for particular workers when the cluster starts (not for restarts), e.g.
        /// `["w2": ["--fault", "handoff.source-after-send"]]`.
        public var workerArguments: [String: [String]] = [:]
        public var readyTimeout: Duration = .seconds(120)
        public var executable: URL = ChildProcess.cellcluster

        public init(workers: Int, settings: [String] = [], environment: [String: String] = [:]) {
            self.workers = workers
            self.settings = settings
            self.environment = environment
        }
    }

    private struct State {
        var coordinator: ChildProcess
        var workers: [String: ChildProcess] = [:]
        var endpoints: [String: String] = [:]
        var nextWorker = 1
    }

    public let options: Options
    public let coordinatorEndpoint: String
    private let state: Mutex<State>

    /// The arguments every process gets after its own: settings and the log level.
    private static func common(_ options: Options) -> [String] {
        options.settings.flatMap { ["--set", $0] } + ["--set", "workers.count=\(options.workers)"]
            + (options.logLevel.map { ["--log-level", $0] } ?? [])
    }

    /// Starts the coordinator and the workers, and waits until all are ready.
    /// - Throws: `ProcessKitError` naming a process that did not get ready (every process
    ///   started so far is stopped first).
    public init(_ options: Options) throws {
        self.options = options
        let coordinator = try Self.coordinator(options, bind: options.coordinatorBind)
        coordinatorEndpoint = try coordinator.waitReady(timeout: options.readyTimeout)
        state = Mutex(State(coordinator: coordinator))
        do {
            var ids: [String] = []
            for i in 1...max(1, options.workers) where i <= options.workers {
                ids.append(try startWorker(extra: options.workerArguments["w\(i)"] ?? [], wait: false))
            }
            for id in ids { try waitReady(id) }
        } catch {
            killAll()
            throw error
        }
    }

    private static func coordinator(_ options: Options, bind: String) throws -> ChildProcess {
        try ChildProcess(["coordinator", "--bind", bind] + common(options), environment: options.environment,
                                output: output(options, "coordinator"), executable: options.executable)
    }

    private static func output(_ options: Options, _ name: String) -> ChildProcess.Output {
        options.runDirectory.map { .files(directory: $0, name: name) } ?? .memory
    }

    public var coordinator: ChildProcess { state.withLock { $0.coordinator } }
    public func worker(_ id: String) -> ChildProcess? { state.withLock { $0.workers[id] } }
    /// The endpoint of worker `id`'s latest incarnation that got ready.
    public func endpoint(of id: String) -> String? { state.withLock { $0.endpoints[id] } }
    /// Every worker started so far (dead or alive), by id.
    public var workers: [String: ChildProcess] { state.withLock { $0.workers } }
    public var liveWorkers: [String] { workers.filter { $0.value.isRunning }.map(\.key).sorted() }

    /// Starts worker `id` (the next unused wN when nil: new, or again after it died).
    /// - Parameter wait: wait for it to be ready (its endpoint is known then).
    /// - Returns: its id.
    @discardableResult
    public func startWorker(_ id: String? = nil, extra: [String] = [], wait: Bool = true) throws -> String {
        let name = state.withLock { s -> String in
            if let id { return id }
            defer { s.nextWorker += 1 }
            return "w\(s.nextWorker)"
        }
        let child = try ChildProcess(
            ["worker", "--id", name, "--coordinator", coordinatorEndpoint, "--bind", options.workerBind] + Self.common(options) + extra,
            environment: options.environment, output: Self.output(options, name), executable: options.executable)
        state.withLock { $0.workers[name] = child }
        if wait { try waitReady(name) }
        return name
    }

    /// Waits for worker `id`'s ready line and records its endpoint.
    public func waitReady(_ id: String) throws {
        guard let child = worker(id) else { throw ProcessKitError("no worker \(id)") }
        let endpoint = try child.waitReady(timeout: options.readyTimeout)
        state.withLock { $0.endpoints[id] = endpoint }
    }

    /// SIGKILLs the coordinator and starts a new one on the same endpoint (after `pause`).
    public func restartCoordinator(downFor pause: Duration = .zero) throws {
        coordinator.killHard()
        if pause > .zero { Thread.sleep(forTimeInterval: Double(pause.components.seconds) + Double(pause.components.attoseconds) / 1e18) }
        var last: Error?
        for _ in 0..<50 {  // the port may take a moment to be free again
            do {
                let child = try Self.coordinator(options, bind: coordinatorEndpoint)
                _ = try child.waitReady(timeout: .seconds(30))
                state.withLock { $0.coordinator = child }
                return
            } catch {
                last = error
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        throw last ?? ProcessKitError("the coordinator did not restart")
    }

    /// SIGINT to every worker (a final checkpoint each, no hand-off; paused ones are continued
    /// first), then to the coordinator.
    /// - Returns: workers that exited with a status other than 0.
    @discardableResult
    public func stopAll(timeout: Duration = .seconds(60)) -> [String] {
        let all = workers.sorted { $0.key < $1.key }
        for (_, child) in all where child.isRunning {
            if child.isPaused { child.signal(SIGCONT) }
            child.signal(SIGINT)
        }
        var failed: [String] = []
        for (name, child) in all {
            if child.waitForExit(timeout: timeout) == nil { child.killHard() }
            if child.terminationReason == .exit && child.waitForExit(timeout: .zero) != 0 { failed.append(name) }
        }
        coordinator.stop(SIGINT, timeout: .seconds(10))
        return failed
    }

    /// SIGKILL to every process, for cleanup.
    public func killAll() {
        let (c, ws) = state.withLock { ($0.coordinator, Array($0.workers.values)) }
        ws.forEach { $0.killHard() }
        c.killHard()
    }
}
