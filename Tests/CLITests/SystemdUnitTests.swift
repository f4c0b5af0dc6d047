import Foundation
import Testing
import TestSupport

/// The unit templates in deploy/systemd: systemd-analyze verify accepts them (with the built
/// executable in place of /usr/local/bin/cellcluster), and every option their commands pass is
/// one the command takes.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") || ProcessInfo.processInfo.environment["CI"] != nil,
                "systemd-analyze is not installed (scripts/test installs systemd)"))
struct SystemdUnitTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("deploy/systemd")

    /// Runs systemd-analyze verify on `units` (file names in `directory`); its status and what it printed.
    static func verify(_ directory: URL, _ units: [String]) throws -> (status: Int32, output: String) {
        let outcome = try CommandRunner.run(executable: URL(fileURLWithPath: "/usr/bin/systemd-analyze"),
                                            ["verify", "--man=no"] + units.map { directory.appendingPathComponent($0).path })
        return (outcome.status, outcome.stdout + outcome.stderr)
    }

    /// The units, copied with the built executable's path; the worker template also as instance w1.
    static func copies() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cellcluster-units-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for name in ["cellcluster-coordinator.service", "cellcluster-worker@.service"] {
            let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
                .replacingOccurrences(of: "/usr/local/bin/cellcluster", with: CommandRunner.executable.path)
            try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        try FileManager.default.copyItem(at: directory.appendingPathComponent("cellcluster-worker@.service"),
                                         to: directory.appendingPathComponent("cellcluster-worker@w1.service"))
        return directory
    }

    @Test func systemdAnalyzeVerifiesTheUnits() throws {
        let directory = try Self.copies()
        defer { try? FileManager.default.removeItem(at: directory) }
        let verified = try Self.verify(directory, ["cellcluster-coordinator.service", "cellcluster-worker@w1.service"])
        #expect(verified.status == 0 && verified.output.isEmpty, "\(verified.output)")

        // The check can fail: a misspelt key and a missing executable are reported.
        let broken = try String(contentsOf: directory.appendingPathComponent("cellcluster-coordinator.service"), encoding: .utf8)
            .replacingOccurrences(of: "KillSignal=", with: "KillSignall=")
            .replacingOccurrences(of: CommandRunner.executable.path, with: "/nonexistent/cellcluster")
        try broken.write(to: directory.appendingPathComponent("broken.service"), atomically: true, encoding: .utf8)
        let refused = try Self.verify(directory, ["broken.service"])
        #expect(refused.status != 0 && refused.output.contains("KillSignall") && refused.output.contains("/nonexistent/cellcluster"))
    }

    @Test func everyOptionTheUnitsPassExists() throws {
        for name in ["cellcluster-coordinator.service", "cellcluster-worker@.service"] {
            let text = try String(contentsOf: Self.folder.appendingPathComponent(name), encoding: .utf8)
            for line in text.split(separator: "\n") where line.hasPrefix("ExecStart") {
                let words = line.split(separator: " ").map(String.init)
                guard let binary = words.firstIndex(where: { $0.hasSuffix("/cellcluster") }), binary + 1 < words.count else { continue }
                let subcommand = words[binary + 1]
                let help = try CommandRunner.run([subcommand, "--help"])
                #expect(help.status == 0, "\(name): cellcluster \(subcommand) --help failed")
                for option in words where option.hasPrefix("--") {
                    #expect(help.stdout.contains(option), "\(name): cellcluster \(subcommand) takes no \(option)")
                }
            }
        }
    }
}
