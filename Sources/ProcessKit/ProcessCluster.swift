import Foundation
import Synchronization

/// A coordinator and its workers as real processes: the one way tests, benchmarks and the soak
/// start a cluster. Workers come and go (started later, killed, paused, restarted); a
/// coordinator can be restarted on its own endpoint. With `standby`, a second coordinator (c2)
/// stands by behind the first (c1). Every process is stopped by its own PID.
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
        /// Start a standby coordinator (c2) too.
        public var standby = false
        public var readyTimeout: Duration = .seconds(120)
        /// Hosts of their own (`scripts/hosts`): each process runs in its host's network namespace
        /// and binds its host's address (port 0, or the endpoint it had when restarted).
        public var hosts: HostMap?
        public var executable: URL = ChildProcess.cellcluster

        public init(workers: Int, settings: [String] = [], environment: [String: String] = [:]) {
            self.workers = workers
            self.settings = settings
            self.environment = environment
        }
    }

    private struct State {
        /// By name: c1, and c2 with a standby.
        var coordinators: [String: ChildProcess]
        var workers: [String: ChildProcess] = [:]
        var endpoints: [String: String] = [:]
        var nextWorker = 1
    }

    public let options: Options
    /// c1's endpoint.
    public let coordinatorEndpoint: String
    /// Each coordinator's endpoint by name.
    public let coordinatorEndpointsByName: [String: String]
    /// Every coordinator's endpoint, comma-separated (c1 first): what workers and clients get.
    public var coordinatorEndpoints: String { coordinatorEndpointsByName.sorted { $0.key < $1.key }.map(\.value).joined(separator: ",") }
    private let state: Mutex<State>

    /// The arguments every process gets after its own: settings and the log level.
    private static func common(_ options: Options, _ name: String) -> [String] {
        options.settings.flatMap { ["--set", $0] } + ["--set", "workers.count=\(options.workers)"]
            + (options.logLevel.map { ["--log-level", $0] } ?? [])
            // On a host of its own, the metrics endpoint listens on the host's address too.
            + (options.hosts?.hosts[name].map { ["--metrics", "\($0.address):0"] } ?? [])
    }

    /// Starts the coordinator and the workers, and waits until all are ready.
    /// - Throws: `ProcessKitError` naming a process that did not get ready (every process
    ///   started so far is stopped first).
    public init(_ options: Options) throws {
        self.options = options
        let coordinator = try Self.coordinator(options, "c1", bind: try Self.bind(options, "c1", options.coordinatorBind))
        coordinatorEndpoint = try coordinator.waitReady(timeout: options.readyTimeout)
        var coordinators = ["c1": coordinator]
        var endpoints = ["c1": coordinatorEndpoint]
        if options.standby {
            do {
                let standby = try Self.coordinator(options, "c2", bind: try Self.bind(options, "c2", options.coordinatorBind))
                coordinators["c2"] = standby
                endpoints["c2"] = try standby.waitReady(timeout: options.readyTimeout)
            } catch {
                coordinators.values.forEach { $0.killHard() }
                throw error
            }
        }
        coordinatorEndpointsByName = endpoints
        state = Mutex(State(coordinators: coordinators))
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

    private static func coordinator(_ options: Options, _ name: String, bind: String) throws -> ChildProcess {
        try ChildProcess(["coordinator", "--id", name, "--bind", bind] + common(options, name), environment: options.environment,
                         output: output(options, name == "c1" ? "coordinator" : "coordinator-\(name)"),
                         launcher: try options.hosts?.launcher(name) ?? [], executable: options.executable)
    }

    /// Where process `name` binds: its host's address with a free port, or `fallback`.
    private static func bind(_ options: Options, _ name: String, _ fallback: String) throws -> String {
        try options.hosts?.endpoint(name) ?? fallback
    }

    private static func output(_ options: Options, _ name: String) -> ChildProcess.Output {
        options.runDirectory.map { .files(directory: $0, name: name) } ?? .memory
    }

    /// c1.
    public var coordinator: ChildProcess { state.withLock { $0.coordinators["c1"]! } }
    public func coordinator(_ name: String) -> ChildProcess? { state.withLock { $0.coordinators[name] } }
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
            ["worker", "--id", name, "--coordinator", coordinatorEndpoints, "--bind", try Self.bind(options, name, options.workerBind)]
                + Self.common(options, name) + extra,
            environment: options.environment, output: Self.output(options, name), launcher: try options.hosts?.launcher(name) ?? [],
            executable: options.executable)
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

    /// SIGKILLs coordinator `name` and starts a new one under that name on the same endpoint
    /// (after `pause`).
    public func restartCoordinator(_ name: String = "c1", downFor pause: Duration = .zero) throws {
        guard let old = coordinator(name), let endpoint = coordinatorEndpointsByName[name] else { throw ProcessKitError("no coordinator \(name)") }
        old.killHard()
        if pause > .zero { Thread.sleep(forTimeInterval: Double(pause.components.seconds) + Double(pause.components.attoseconds) / 1e18) }
        var last: Error?
        for _ in 0..<50 {  // the port may take a moment to be free again
            do {
                let child = try Self.coordinator(options, name, bind: endpoint)
                _ = try child.waitReady(timeout: .seconds(30))
                state.withLock { $0.coordinators[name] = child }
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
        for c in state.withLock({ Array($0.coordinators.values) }) { c.stop(SIGINT, timeout: .seconds(10)) }
        return failed
    }

    /// SIGKILL to every process, for cleanup.
    public func killAll() {
        let (cs, ws) = state.withLock { (Array($0.coordinators.values), Array($0.workers.values)) }
        ws.forEach { $0.killHard() }
        cs.forEach { $0.killHard() }
    }
}
