import Foundation

/// The soak's own cluster: a coordinator and workers started from this executable as child
/// processes, each with a PID file and a log in the run folder, and stopped only by those PIDs.
/// Faults act on these processes: SIGKILL and restart, SIGSTOP and SIGCONT, more or fewer
/// workers, a coordinator restart.
public final class Supervisor {
    public final class Child {
        public let name: String
        public let process = Process()
        let logURL: URL
        let outURL: URL
        public private(set) var stopped = false

        init(name: String, arguments: [String], environment: [String: String], runDir: URL) throws {
            self.name = name
            logURL = runDir.appendingPathComponent("\(name).log")
            outURL = runDir.appendingPathComponent("\(name).out")
            // A restarted process appends to its log (the history of every incarnation stays);
            // its ready line is read from a fresh .out.
            if !FileManager.default.fileExists(atPath: logURL.path) { FileManager.default.createFile(atPath: logURL.path, contents: nil) }
            FileManager.default.createFile(atPath: outURL.path, contents: nil)
            process.executableURL = Supervisor.executable
            process.arguments = arguments
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            let log = try FileHandle(forWritingTo: logURL)
            log.seekToEndOfFile()
            process.standardError = log
            process.standardOutput = try FileHandle(forWritingTo: outURL)
            try process.run()
            try "\(process.processIdentifier)\n".write(to: runDir.appendingPathComponent("\(name).pid"), atomically: true, encoding: .utf8)
        }

        public var pid: Int32 { process.processIdentifier }
        public var isRunning: Bool { process.isRunning }

        /// The `endpoint=` of its ready line, if it printed one yet.
        public var readyEndpoint: String? {
            guard let text = try? String(contentsOf: outURL, encoding: .utf8),
                let line = text.split(separator: "\n").first(where: { $0.hasPrefix("ready ") }),
                let field = line.split(separator: " ").first(where: { $0.hasPrefix("endpoint=") })
            else { return nil }
            return String(field.dropFirst("endpoint=".count))
        }

        public func waitReady(timeout: Duration) throws -> String {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if let endpoint = readyEndpoint { return endpoint }
                if !process.isRunning { break }
                Thread.sleep(forTimeInterval: 0.02)
            }
            throw SoakError("\(name) did not get ready; see \(logURL.path)")
        }

        public func signal(_ number: Int32) {
            guard process.isRunning else { return }
            kill(process.processIdentifier, number)
            if number == SIGSTOP { stopped = true }
            if number == SIGCONT { stopped = false }
        }

        /// Waits (bounded) for the exit; SIGKILL past the wait. Returns the exit status.
        @discardableResult
        public func waitExit(timeout: Duration) -> Int32 {
            let deadline = ContinuousClock.now + timeout
            while process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.02) }
            if process.isRunning {
                if stopped { kill(process.processIdentifier, SIGCONT) }
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            return process.terminationStatus
        }
    }

    static var executable: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    }

    public let runDir: URL
    let environment: [String: String]
    let sets: [String]
    public private(set) var coordinator: Child
    public let coordinatorEndpoint: String
    /// Workers by id, in the order they were started.
    public private(set) var workers: [String: Child] = [:]
    public private(set) var nextWorker = 1

    /// Starts the coordinator and `count` workers and waits until all are ready.
    public init(runDir: URL, workers count: Int, environment: [String: String], settings: [String]) throws {
        self.runDir = runDir
        self.environment = environment
        try FileManager.default.createDirectory(at: runDir, withIntermediateDirectories: true)
        sets = settings.flatMap { ["--set", $0] } + ["--set", "workers.count=\(count)"]
        coordinator = try Child(name: "coordinator", arguments: ["coordinator", "--bind", "tcp://127.0.0.1:0"] + sets,
                                environment: environment, runDir: runDir)
        coordinatorEndpoint = try coordinator.waitReady(timeout: .seconds(60))
        for _ in 0..<count { try startWorker() }
        for child in workers.values { _ = try child.waitReady(timeout: .seconds(120)) }
    }

    /// A new worker (the next id), not waited for.
    @discardableResult
    public func startWorker(id: String? = nil) throws -> String {
        let name = id ?? "w\(nextWorker)"
        if id == nil { nextWorker += 1 }
        workers[name] = try Child(
            name: name, arguments: ["worker", "--id", name, "--coordinator", coordinatorEndpoint, "--bind", "tcp://127.0.0.1:0"] + sets,
            environment: environment, runDir: runDir)
        return name
    }

    public var liveWorkers: [String] { workers.filter { $0.value.isRunning }.map(\.key).sorted() }

    public func restartCoordinator() throws {
        coordinator.signal(SIGKILL)
        coordinator.waitExit(timeout: .seconds(10))
        var last: Error?
        for _ in 0..<50 {
            do {
                let child = try Child(name: "coordinator", arguments: ["coordinator", "--bind", coordinatorEndpoint] + sets,
                                      environment: environment, runDir: runDir)
                _ = try child.waitReady(timeout: .seconds(30))
                coordinator = child
                return
            } catch {
                last = error
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        throw last ?? SoakError("the coordinator did not restart")
    }

    /// SIGINT to every worker (a final checkpoint each, no hand-off), then the coordinator.
    /// - Returns: workers that did not exit with status 0.
    public func stopAll() -> [String] {
        var failed: [String] = []
        for (_, child) in workers where child.stopped { child.signal(SIGCONT) }
        for (_, child) in workers where child.isRunning { child.signal(SIGINT) }
        for (name, child) in workers.sorted(by: { $0.key < $1.key }) {
            let status = child.waitExit(timeout: .seconds(60))
            if child.process.terminationReason == .exit && status != 0 { failed.append(name) }
        }
        coordinator.signal(SIGINT)
        coordinator.waitExit(timeout: .seconds(10))
        return failed
    }
}

public struct SoakError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
