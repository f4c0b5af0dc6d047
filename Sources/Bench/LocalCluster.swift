import Foundation
import Synchronization

/// A coordinator and workers started from this very executable, for end-to-end benchmarks.
/// Each is stopped by its PID with SIGINT when the benchmark ends.
final class LocalCluster {
    final class Child {
        final class Output: Sendable {
            let text = Mutex("")
        }
        let process = Process()
        let output = Output()

        init(_ arguments: [String], environment: [String: String]) throws {
            process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            if !process.executableURL!.path.hasPrefix("/") {
                process.executableURL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(CommandLine.arguments[0])
            }
            process.arguments = arguments
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            let output = self.output
            pipe.fileHandleForReading.readabilityHandler = { handle in
                let data = handle.availableData
                if !data.isEmpty { output.text.withLock { $0 += String(decoding: data, as: UTF8.self) } }
            }
            try process.run()
        }

        /// The `endpoint=` of the ready line, waiting at most `timeout`.
        func readyEndpoint(timeout: Duration = .seconds(60)) throws -> String {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                let text = output.text.withLock { $0 }
                if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("ready ") }),
                    let field = line.split(separator: " ").first(where: { $0.hasPrefix("endpoint=") }) {
                    return String(field.dropFirst("endpoint=".count))
                }
                if !process.isRunning { break }
                Thread.sleep(forTimeInterval: 0.02)
            }
            throw BenchFailure(message: "\(process.arguments?.first ?? "child") did not get ready")
        }

        /// SIGINT: a final checkpoint without handing cells to others (the whole cluster stops).
        func stop() {
            guard process.isRunning else { return }
            kill(process.processIdentifier, SIGINT)
            let deadline = ContinuousClock.now + .seconds(30)
            while process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.02) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
    }

    let coordinator: Child
    let coordinatorEndpoint: String
    let workers: [Child]
    var added: [Child] = []
    let environment: [String: String]
    let sets: [String]

    init(workers count: Int, environment: [String: String], settings: [String]) throws {
        let sets = settings.flatMap { ["--set", $0] } + ["--set", "workers.count=\(count)"]
        self.environment = environment
        self.sets = sets
        coordinator = try Child(["coordinator", "--bind", "tcp://127.0.0.1:0", "--log-level", "warning"] + sets, environment: environment)
        let endpoint = try coordinator.readyEndpoint()
        coordinatorEndpoint = endpoint
        workers = try (1...count).map {
            try Child(["worker", "--id", "w\($0)", "--coordinator", endpoint, "--bind", "tcp://127.0.0.1:0", "--log-level", "warning"] + sets,
                      environment: environment)
        }
        for w in workers { _ = try w.readyEndpoint() }
    }

    /// Starts one more worker, which joins the running cluster; waits until it is ready.
    func addWorker(_ id: String) throws {
        let child = try Child(["worker", "--id", id, "--coordinator", coordinatorEndpoint, "--bind", "tcp://127.0.0.1:0", "--log-level", "warning"] + sets,
                              environment: environment)
        added.append(child)
        _ = try child.readyEndpoint()
    }

    func stop() {
        (workers + added).forEach { $0.stop() }
        coordinator.stop()
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
