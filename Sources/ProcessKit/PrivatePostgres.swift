import Foundation

/// A private PostgreSQL server (scripts/pg in a folder of its own): tests that stop and restart
/// the database under a running worker start one; the soak restarts the one `scripts/cluster`
/// started for it.
public final class PrivatePostgres {
    public let directory: String
    public private(set) var port: Int = 0
    /// Another address it listens on (and whose subnet it lets in with the password), e.g. a namespace link's.
    public let extraListen: String?
    /// scripts/pg.
    let script: String
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Starts a new server in a fresh folder under the project's `.run`.
    public init(extraListen: String? = nil) throws {
        self.extraListen = extraListen
        script = Self.root.appendingPathComponent("scripts/pg").path
        directory = Self.root.appendingPathComponent(".run/test-pg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try start()
    }

    /// The server in `directory` that `script` (scripts/pg) started, without starting anything.
    public init(directory: String, script: String) {
        self.directory = directory
        self.script = script
        extraListen = nil
    }

    /// What a process needs to reach this server (its password through its pgpass file).
    public var environment: [String: String] {
        var env = ["PGHOST": "127.0.0.1", "PGPORT": String(port), "PGUSER": "cellcluster", "PGDATABASE": "cellcluster"]
        if FileManager.default.fileExists(atPath: passFile) { env["PGPASSFILE"] = passFile }
        return env
    }

    /// The pgpass file scripts/pg wrote with the server's generated password.
    public var passFile: String { directory + "/pgpass" }

    /// The server's password (scram-sha-256), for a connection made in this process; nil for a
    /// server made before passwords.
    public var password: String? {
        guard let text = try? String(contentsOfFile: passFile, encoding: .utf8),
            let line = text.split(separator: "\n").first else { return nil }
        return line.split(separator: ":", maxSplits: 4, omittingEmptySubsequences: false).last.map(String.init)
    }

    /// Starts (or restarts, on the same port when free) the server.
    public func start() throws {
        let out = try run(["start", directory], environment: extraListen.map { ["CELLCLUSTER_PG_EXTRA_LISTEN": $0] } ?? [:])
        guard let line = out.split(separator: "\n").first(where: { $0.hasPrefix("export PGPORT=") }),
            let value = Int(line.dropFirst("export PGPORT=".count))
        else { throw ProcessKitError("scripts/pg start printed no port: \(out)") }
        port = value
    }

    public func stop() throws { _ = try run(["stop", directory]) }

    /// Stops the server and removes its folder (and its files, wherever scripts/pg put them).
    public func destroy() {
        _ = try? run(["destroy", directory])
        try? FileManager.default.removeItem(atPath: directory)
    }

    @discardableResult
    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> String {
        // posix_spawn and waitpid rather than Foundation's Process: the server the script starts
        // outlives it, and Process did not always notice the script's exit. Output (and errors)
        // go to a file, never a pipe the server could inherit and hold open.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pg-script-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).out").path
        defer { unlink(file) }
        let path = script
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, file, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)  // its complaints, for the error below
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let envp: [UnsafeMutablePointer<CChar>?] = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        let rc = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard rc == 0 else { throw ProcessKitError("cannot start scripts/pg: errno \(rc)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            let said = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            throw ProcessKitError("scripts/pg \(arguments.joined(separator: " ")) failed (status \(status)): \(said.suffix(600))")
        }
        return (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
    }
}
