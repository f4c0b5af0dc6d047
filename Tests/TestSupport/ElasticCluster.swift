import Foundation
import Synchronization

/// A coordinator and workers as real processes on one database, where workers come and go:
/// started later, killed, paused, restarted; and the coordinator restarted on its own endpoint.
public final class ElasticCluster: Sendable {
    public let database: String
    public let coordinatorEndpoint: String
    let sets: [String]
    let state: Mutex<(coordinator: ManagedProcess, workers: [String: ManagedProcess], endpoints: [String: String])>

    public var env: [String: String] { ["PGDATABASE": database] }

    /// - Parameter settings: `--set` overrides for every process.
    public init(database: String, workers count: Int, settings: [String] = []) throws {
        self.database = database
        let env = ["PGDATABASE": database]
        let migrate = try CommandRunner.run(["db", "migrate"], environment: env)
        guard migrate.status == 0 else { throw WorkerProcessError(message: "migrate failed: \(migrate.stderr)") }
        sets = settings.flatMap { ["--set", $0] } + ["--set", "workers.count=\(count)"]
        let (c, endpoint) = try ClusterProcesses.startCoordinator(env: env, sets: sets, bind: "tcp://127.0.0.1:0")
        coordinatorEndpoint = endpoint
        state = Mutex((c, [:], [:]))
        var started: [(String, ManagedProcess)] = []
        for i in 1...count { started.append(("w\(i)", try launch("w\(i)"))) }
        for (id, process) in started { try waitReady(id, process) }
    }

    private func launch(_ id: String, extra: [String] = []) throws -> ManagedProcess {
        try ManagedProcess(["worker", "--id", id, "--coordinator", coordinatorEndpoint, "--bind", "tcp://127.0.0.1:0"] + sets + extra,
                           environment: env)
    }

    private func waitReady(_ id: String, _ process: ManagedProcess) throws {
        guard let ready = process.waitForLine(startingWith: "ready ", timeout: .seconds(60)),
            let field = ready.split(separator: " ").first(where: { $0.hasPrefix("endpoint=") })
        else {
            process.killHard()
            throw WorkerProcessError(message: "worker \(id) did not get ready: \(process.stderr.suffix(2000))")
        }
        state.withLock {
            $0.workers[id] = process
            $0.endpoints[id] = String(field.dropFirst("endpoint=".count))
        }
    }

    /// Starts worker `id` (new, or again after it died) and waits for it to serve.
    @discardableResult
    public func startWorker(_ id: String, extra: [String] = []) throws -> ManagedProcess {
        let process = try launch(id, extra: extra)
        try waitReady(id, process)
        return process
    }

    public func worker(_ id: String) -> ManagedProcess? { state.withLock { $0.workers[id] } }
    public func endpoint(of id: String) -> String? { state.withLock { $0.endpoints[id] } }
    public var coordinator: ManagedProcess { state.withLock { $0.coordinator } }

    /// SIGKILLs the coordinator and starts a new one on the same endpoint.
    public func restartCoordinator(downFor pause: Duration = .zero) throws {
        coordinator.signal(SIGKILL)
        coordinator.waitForExit()
        Thread.sleep(forTimeInterval: Double(pause.components.seconds) + Double(pause.components.attoseconds) / 1e18)
        var lastError: Error?
        for _ in 0..<50 {  // the port may take a moment to be free again
            do {
                let (c, _) = try ClusterProcesses.startCoordinator(env: env, sets: sets, bind: coordinatorEndpoint)
                state.withLock { $0.coordinator = c }
                return
            } catch {
                lastError = error
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        throw lastError!
    }

    /// Runs `cellcluster` with this cluster's database and settings.
    public func run(_ arguments: [String]) throws -> CommandRunner.Outcome {
        try CommandRunner.run(arguments + sets, environment: env)
    }

    public func killAll() {
        let (c, ws) = state.withLock { ($0.coordinator, Array($0.workers.values)) }
        ws.forEach { $0.killHard() }
        c.killHard()
    }
}
