import Foundation
import Synchronization

/// A real child process whose output is collected as it runs; stopped by its PID only.
public final class ManagedProcess: Sendable {
    private let process: Process
    private let output = OutputBuffer()
    public let arguments: [String]

    /// Starts `cellcluster` with these arguments and extra environment.
    /// - Parameter launcher: a command that runs it, e.g. `["/usr/sbin/ip", "netns", "exec", "ns1"]`
    ///   (it must exec the executable, so the PID stays the executable's).
    public init(_ arguments: [String], environment: [String: String] = [:], launcher: [String] = []) throws {
        self.arguments = arguments
        let process = Process()
        if let first = launcher.first {
            process.executableURL = URL(fileURLWithPath: first)
            process.arguments = Array(launcher.dropFirst()) + [CommandRunner.executable.path] + arguments
        } else {
            process.executableURL = CommandRunner.executable
            process.arguments = arguments
        }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        self.process = process
        let buffer = output
        out.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if !data.isEmpty { buffer.text.withLock { $0.stdout += String(decoding: data, as: UTF8.self) } }
        }
        err.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if !data.isEmpty { buffer.text.withLock { $0.stderr += String(decoding: data, as: UTF8.self) } }
        }
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }
    public var stdout: String { output.text.withLock { $0.stdout } }
    public var stderr: String { output.text.withLock { $0.stderr } }
    public var isRunning: Bool { process.isRunning }

    /// Waits (bounded) for a stdout line starting with `prefix`; returns it.
    public func waitForLine(startingWith prefix: String, timeout: Duration = .seconds(30)) -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = stdout.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) { return String(line) }
            if !process.isRunning { break }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return stdout.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }).map(String.init)
    }

    /// Sends a signal to this process (and nothing else).
    public func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits (bounded) for the process to exit; returns its status, or nil if it is still running.
    @discardableResult
    public func waitForExit(timeout: Duration = .seconds(30)) -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.01) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// SIGKILL, for cleanup after a failed test.
    public func killHard() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { killHard() }
}

/// What a child printed so far.
final class OutputBuffer: Sendable {
    let text = Mutex<(stdout: String, stderr: String)>(("", ""))
}

/// A `cellcluster worker` on a fresh, migrated database.
public final class WorkerProcess: Sendable {
    public let process: ManagedProcess
    public let endpoint: String
    public let database: String

    /// - Parameter settings: `--set` overrides, e.g. "checkpoint.interval_ms=600000".
    public init(database: String, settings: [String] = [], id: String = "w1", environment: [String: String] = [:]) throws {
        self.database = database
        let env = environment.merging(["PGDATABASE": database]) { $1 }
        let migrate = try CommandRunner.run(["db", "migrate"], environment: env)
        guard migrate.status == 0 else { throw WorkerProcessError(message: "migrate failed: \(migrate.stderr)") }
        var arguments = ["worker", "--id", id, "--bind", "tcp://127.0.0.1:0"]
        for s in settings { arguments += ["--set", s] }
        process = try ManagedProcess(arguments, environment: env)
        guard let ready = process.waitForLine(startingWith: "ready "),
            let field = ready.split(separator: " ").first(where: { $0.hasPrefix("endpoint=") })
        else {
            process.killHard()
            throw WorkerProcessError(message: "worker did not get ready: \(process.stderr)")
        }
        endpoint = String(field.dropFirst("endpoint=".count))
    }
}

public struct WorkerProcessError: Error, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// A coordinator and its workers as real processes on one database.
public final class ClusterProcesses: Sendable {
    public let coordinator: ManagedProcess
    public let coordinatorEndpoint: String
    public let workers: [ManagedProcess]
    public let workerEndpoints: [String: String]
    public let database: String
    let sets: [String]

    /// - Parameter extra: more arguments for worker i (1-based), e.g. `--fault` steps.
    public init(database: String, workers count: Int, settings: [String] = [], migrate: Bool = true, extra: [Int: [String]] = [:]) throws {
        self.database = database
        let env = ["PGDATABASE": database]
        if migrate {
            let outcome = try CommandRunner.run(["db", "migrate"], environment: env)
            guard outcome.status == 0 else { throw WorkerProcessError(message: "migrate failed: \(outcome.stderr)") }
        }
        let sets = settings.flatMap { ["--set", $0] } + ["--set", "workers.count=\(count)"]
        self.sets = sets
        let (c, endpoint) = try Self.startCoordinator(env: env, sets: sets, bind: "tcp://127.0.0.1:0")
        coordinator = c
        coordinatorEndpoint = endpoint
        var started: [ManagedProcess] = []
        for i in 1...count {
            started.append(try ManagedProcess(
                ["worker", "--id", "w\(i)", "--coordinator", endpoint, "--bind", "tcp://127.0.0.1:0"] + sets + (extra[i] ?? []), environment: env))
        }
        var endpoints: [String: String] = [:]
        for (i, w) in started.enumerated() {
            guard let ready = w.waitForLine(startingWith: "ready "),
                let field = ready.split(separator: " ").first(where: { $0.hasPrefix("endpoint=") })
            else {
                started.forEach { $0.killHard() }
                coordinator.killHard()
                throw WorkerProcessError(message: "worker w\(i + 1) did not get ready: \(w.stderr)")
            }
            endpoints["w\(i + 1)"] = String(field.dropFirst("endpoint=".count))
        }
        workers = started
        workerEndpoints = endpoints
    }

    /// Starts a coordinator and waits for its ready line.
    public static func startCoordinator(env: [String: String], sets: [String], bind: String) throws -> (ManagedProcess, String) {
        let c = try ManagedProcess(["coordinator", "--bind", bind] + sets, environment: env)
        guard let ready = c.waitForLine(startingWith: "ready coordinator"),
            let field = ready.split(separator: " ").first(where: { $0.hasPrefix("endpoint=") })
        else {
            c.killHard()
            throw WorkerProcessError(message: "coordinator did not get ready: \(c.stderr)")
        }
        return (c, String(field.dropFirst("endpoint=".count)))
    }

    /// Starts worker `id` again (after it died), waiting for its ready line.
    public func restartWorker(_ id: String) throws -> ManagedProcess {
        let w = try ManagedProcess(
            ["worker", "--id", id, "--coordinator", coordinatorEndpoint, "--bind", "tcp://127.0.0.1:0"] + sets,
            environment: ["PGDATABASE": database])
        guard w.waitForLine(startingWith: "ready ") != nil else {
            w.killHard()
            throw WorkerProcessError(message: "worker \(id) did not restart: \(w.stderr)")
        }
        return w
    }

    public func killAll() {
        workers.forEach { $0.killHard() }
        coordinator.killHard()
    }
}
