import Foundation
import Synchronization

/// One `cellcluster` process (a coordinator or a worker) that a test, a benchmark or the soak
/// started; signalled and stopped only by its own PID.
public final class ChildProcess: Sendable {
    /// Where its output goes.
    public enum Output: Sendable {
        /// Kept in memory (`stdout`, `stderr`).
        case memory
        /// `<name>.log` (stderr, appended across restarts: every incarnation's history stays),
        /// `<name>.out` (stdout, fresh each start) and `<name>.pid` in `directory`.
        case files(directory: URL, name: String)
    }

    private let process: Process
    private let output: Output
    private let buffer = OutputBuffer()
    private let paused = Mutex(false)
    public let arguments: [String]

    /// The executable to start: `CELLCLUSTER_BIN` when set; this very executable when it is
    /// `cellcluster` (benchmarks, the soak); else the `cellcluster` built next to the running
    /// test bundle.
    public static var cellcluster: URL {
        if let path = ProcessInfo.processInfo.environment["CELLCLUSTER_BIN"] { return URL(fileURLWithPath: path) }
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        if me.lastPathComponent == "cellcluster" { return me }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // swift-testing on Linux runs the `…PackageTests.xctest` executable in the build folder.
        if dir.lastPathComponent.hasSuffix(".xctest") { dir.deleteLastPathComponent() }
        return dir.appendingPathComponent("cellcluster")
    }

    /// Starts `cellcluster` with these arguments and extra environment.
    /// - Parameter launcher: a command that runs it, e.g. `["/usr/sbin/ip", "netns", "exec", "ns1"]`
    ///   (it must exec the executable, so the PID stays the executable's).
    public init(_ arguments: [String], environment: [String: String] = [:], output: Output = .memory, launcher: [String] = [],
                executable: URL = ChildProcess.cellcluster) throws {
        self.arguments = arguments
        self.output = output
        let process = Process()
        if let first = launcher.first {
            process.executableURL = URL(fileURLWithPath: first)
            process.arguments = Array(launcher.dropFirst()) + [executable.path] + arguments
        } else {
            process.executableURL = executable
            process.arguments = arguments
        }
        // A cluster's key folder is given to its processes explicitly (--set security.keys), never
        // inherited from a shell that exported CELLCLUSTER_KEYS for its own client.
        var inherited = ProcessInfo.processInfo.environment
        inherited["CELLCLUSTER_KEYS"] = nil
        process.environment = inherited.merging(environment) { $1 }
        self.process = process
        switch output {
        case .memory:
            let out = Pipe(), err = Pipe()
            process.standardOutput = out
            process.standardError = err
            let buffer = self.buffer
            out.fileHandleForReading.readabilityHandler = { handle in
                let data = handle.availableData
                if !data.isEmpty { buffer.text.withLock { $0.stdout += String(decoding: data, as: UTF8.self) } }
            }
            err.fileHandleForReading.readabilityHandler = { handle in
                let data = handle.availableData
                if !data.isEmpty { buffer.text.withLock { $0.stderr += String(decoding: data, as: UTF8.self) } }
            }
            try process.run()
        case .files(let directory, let name):
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let log = directory.appendingPathComponent("\(name).log"), out = directory.appendingPathComponent("\(name).out")
            if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
            _ = FileManager.default.createFile(atPath: out.path, contents: nil)
            let logHandle = try FileHandle(forWritingTo: log)
            logHandle.seekToEndOfFile()
            process.standardError = logHandle
            process.standardOutput = try FileHandle(forWritingTo: out)
            try process.run()
            try "\(process.processIdentifier)\n".write(to: directory.appendingPathComponent("\(name).pid"), atomically: true, encoding: .utf8)
        }
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }
    /// Stopped with SIGSTOP (and not continued since).
    public var isPaused: Bool { paused.withLock { $0 } }
    /// How it ended (valid once it is not running).
    public var terminationReason: Process.TerminationReason { process.terminationReason }

    /// What it printed so far (read from its files when it writes to files).
    public var stdout: String {
        switch output {
        case .memory: buffer.text.withLock { $0.stdout }
        case .files(let directory, let name): (try? String(contentsOf: directory.appendingPathComponent("\(name).out"), encoding: .utf8)) ?? ""
        }
    }

    public var stderr: String {
        switch output {
        case .memory: buffer.text.withLock { $0.stderr }
        case .files(let directory, let name): (try? String(contentsOf: directory.appendingPathComponent("\(name).log"), encoding: .utf8)) ?? ""
        }
    }

    /// Where its log is, for error messages.
    public var logDescription: String {
        switch output {
        case .memory: String(stderr.suffix(2000))
        case .files(let directory, let name): "see \(directory.appendingPathComponent("\(name).log").path)"
        }
    }

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

    /// The `endpoint=` field of its ready line, if it printed one yet.
    public var readyEndpoint: String? { readyField("endpoint") }

    /// A `name=` field of its ready line (`metrics`, `pid`, `role`, …), if it printed one yet.
    public func readyField(_ name: String) -> String? {
        stdout.split(separator: "\n").first(where: { $0.hasPrefix("ready ") }).flatMap { Self.field(name, in: String($0)) }
    }

    /// Waits (bounded) for the ready line; returns the endpoint it serves on.
    /// - Throws: `ProcessKitError` naming the process and where its log is.
    public func waitReady(timeout: Duration = .seconds(60)) throws -> String {
        if let line = waitForLine(startingWith: "ready ", timeout: timeout), let endpoint = Self.field("endpoint", in: line) { return endpoint }
        throw ProcessKitError("\(arguments.prefix(3).joined(separator: " ")) did not get ready: \(logDescription)")
    }

    /// The `name=` field of a line of `key=value` words.
    static func field(_ name: String, in line: String) -> String? {
        line.split(separator: " ").first(where: { $0.hasPrefix("\(name)=") }).map { String($0.dropFirst(name.count + 1)) }
    }

    /// Sends a signal to this process (and nothing else).
    public func signal(_ number: Int32) {
        guard process.isRunning else { return }
        if number == SIGSTOP { paused.withLock { $0 = true } }
        if number == SIGCONT { paused.withLock { $0 = false } }
        kill(process.processIdentifier, number)
    }

    /// Waits (bounded) for the process to exit; returns its status, or nil if it still runs.
    @discardableResult
    public func waitForExit(timeout: Duration = .seconds(30)) -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.01) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Sends `signal` (continuing a paused process first), waits up to `timeout` for the exit,
    /// then SIGKILLs it. Returns the exit status.
    @discardableResult
    public func stop(_ number: Int32 = SIGINT, timeout: Duration = .seconds(30)) -> Int32 {
        if isPaused { signal(SIGCONT) }
        signal(number)
        if let status = waitForExit(timeout: timeout) { return status }
        killHard()
        return process.terminationStatus
    }

    /// SIGKILL (a paused process dies too), for cleanup.
    public func killHard() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit { killHard() }
}

/// What a child printed so far (its pipes' handlers append from their own threads).
final class OutputBuffer: Sendable {
    let text = Mutex<(stdout: String, stderr: String)>(("", ""))
}

public struct ProcessKitError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
