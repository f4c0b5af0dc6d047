import Foundation
import ProcessKit
import Testing
import TestSupport
@testable import Client
@testable import WorldCore
@testable import ZeroMQ

/// `cellcluster top` in a real terminal: tmux runs it against a 2-worker cluster with players
/// walking, and its screen is read back with capture-pane.
@Suite(.serialized, .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux") || ProcessInfo.processInfo.environment["CI"] != nil,
                             "tmux is not installed (scripts/test installs it)"))
struct TopTests {
    /// Runs tmux on its own server `socket`; returns what it printed.
    static func tmux(_ socket: String, _ arguments: [String]) throws -> String {
        let outcome = try CommandRunner.run(executable: URL(fileURLWithPath: "/usr/bin/tmux"), ["-L", socket] + arguments, timeout: 10)
        return outcome.stdout + outcome.stderr
    }

    /// Starts tmux's server with `command` in a detached session, through the shell: the server
    /// keeps every descriptor it inherits, and Foundation's Process would wait on one of them
    /// until the server exits.
    static func startSession(_ socket: String, columns: Int, rows: Int, _ command: [String]) -> Int32 {
        func quoted(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let inner = command.map(quoted).joined(separator: " ") + "; echo top exited $?; sleep 60"
        let line = ["/usr/bin/tmux", "-L", socket, "new-session", "-d", "-x", "\(columns)", "-y", "\(rows)", "-e", "TERM=xterm-256color", inner]
            .map(quoted).joined(separator: " ") + " </dev/null >/dev/null 2>&1"
        return system(line)
    }

    @Test func topShowsATwoWorkerClusterUnderTmux() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let cluster = try ProcessCluster(database: parameters.database!, workers: 2, settings: ElasticTests.settings)
            defer { cluster.killAll() }
            let client = try ClusterClient(context: try Context(), coordinator: cluster.coordinatorEndpoint, grid: Elastic.grid)
            let walkers = Walkers(client: client)
            try walkers.spawn(30)
            walkers.walk(until: { false }, limit: .seconds(1))

            // A tmux server of its own (-L), killed at the end: nothing else of tmux is touched.
            let socket = "cellcluster-top-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            defer { _ = try? Self.tmux(socket, ["kill-server"]) }
            let command = [ChildProcess.cellcluster.path, "top", "--coordinator", cluster.coordinatorEndpoint, "--interval", "0.5", "--frames", "60"]
                + ElasticTests.settings.flatMap { ["--set", $0] }
            #expect(Self.startSession(socket, columns: 100, rows: 40, command) == 0)
            var screen = ""
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline {
                walkers.step()  // players keep moving: rates and entities to show
                screen = try Self.tmux(socket, ["capture-pane", "-p", "-t", "0"])
                if screen.contains("a = w1") && screen.contains("b = w2") && screen.contains("updates/s") && !screen.contains(" - ") { break }
                Thread.sleep(forTimeInterval: 0.3)
            }
            if let path = ProcessInfo.processInfo.environment["CELLCLUSTER_TOP_CAPTURE"] { try screen.write(toFile: path, atomically: true, encoding: .utf8) }
            let lines = screen.split(separator: "\n").map(String.init)
            #expect(lines.first?.contains("cellcluster top  map epoch") == true, "\(screen)")
            let grid = lines.filter { $0.hasPrefix("|") }
            #expect(grid.count >= 10, "\(screen)")
            let drawn = Set(grid.joined())
            #expect(drawn.contains("a") && drawn.contains("b"), "both workers own a region: \(screen)")
            #expect(drawn.contains("A") || drawn.contains("B"), "players are shown: \(screen)")
            #expect(grid.allSatisfy { $0.count <= 100 })
            for (letter, id) in [("a", "w1"), ("b", "w2")] {
                let row = lines.first { $0.hasPrefix("\(letter)  \(id)") }
                #expect(row != nil && row?.contains("no answer") == false, "\(id)'s figures: \(screen)")
            }
        }
    }
}
