import Foundation
import ProcessKit

/// A `cellcluster worker` without a coordinator, on a fresh, migrated database.
public final class WorkerProcess: Sendable {
    public let process: ChildProcess
    public let endpoint: String
    public let database: String

    /// - Parameter settings: `--set` overrides, e.g. "checkpoint.interval_ms=600000".
    public init(database: String, settings: [String] = [], id: String = "w1", environment: [String: String] = [:],
                bind: String = "tcp://127.0.0.1:0", extra: [String] = []) throws {
        self.database = database
        let env = environment.merging(["PGDATABASE": database]) { $1 }
        let migrate = try CommandRunner.run(["db", "migrate"], environment: env)
        guard migrate.status == 0 else { throw WorkerProcessError(message: "migrate failed: \(migrate.stderr)") }
        var arguments = ["worker", "--id", id, "--bind", bind] + extra
        for s in settings { arguments += ["--set", s] }
        process = try ChildProcess(arguments, environment: env)
        do {
            endpoint = try process.waitReady(timeout: .seconds(30))
        } catch {
            process.killHard()
            throw WorkerProcessError(message: "worker did not get ready: \(process.stderr)")
        }
    }
}

public struct WorkerProcessError: Error, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

extension ProcessCluster {
    /// A cluster on one test database (migrated first), its output kept in memory.
    /// - Parameter workerArguments: more arguments for particular workers, e.g. `--fault` steps.
    public convenience init(database: String, workers count: Int, settings: [String] = [], migrate: Bool = true,
                            workerArguments: [String: [String]] = [:], standby: Bool = false) throws {
        let env = ["PGDATABASE": database]
        if migrate {
            let outcome = try CommandRunner.run(["db", "migrate"], environment: env)
            guard outcome.status == 0 else { throw WorkerProcessError(message: "migrate failed: \(outcome.stderr)") }
        }
        var options = Options(workers: count, settings: settings, environment: env)
        options.workerArguments = workerArguments
        options.standby = standby
        options.readyTimeout = .seconds(60)
        try self.init(options)
    }

    /// The test database every process uses.
    public var database: String { options.environment["PGDATABASE"] ?? "" }
    public var env: [String: String] { options.environment }

    /// Runs `cellcluster` with this cluster's database and settings.
    public func run(_ arguments: [String]) throws -> CommandRunner.Outcome {
        try CommandRunner.run(arguments + options.settings.flatMap { ["--set", $0] } + ["--set", "workers.count=\(options.workers)"],
                              environment: env)
    }
}
