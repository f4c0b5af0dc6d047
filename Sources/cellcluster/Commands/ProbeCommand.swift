import ArgumentParser
import Foundation
import Telemetry

struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Wait until a process's /readyz (or another path) answers 200: for supervisors and scripts.",
        discussion: """
            Asks http://host:port<path> every 0.2 s until it answers 200 (exit 0) or --timeout passes (exit 1, \
            with the last answer or error). The URL comes from --url, or from --file: what a process wrote \
            with --metrics-file (the file may not exist yet; it is read again each time).
            """
    )

    @Option(help: "The metrics URL, http://127.0.0.1:PORT.")
    var url: String?

    @Option(help: ArgumentHelp("A file holding the metrics URL (a process's --metrics-file).", valueName: "path"))
    var file: String?

    @Option(help: "The path to ask: /readyz (serving), /healthz (running) or /metrics.")
    var path = "/readyz"

    @Option(help: "Seconds to keep asking; 0: ask once.")
    var timeout: Double = 60

    func validate() throws {
        guard (url == nil) != (file == nil) else { throw ValidationError("give --url or --file, one of them") }
        guard path.hasPrefix("/") else { throw ValidationError("--path must start with /, got \"\(path)\"") }
        guard timeout.isFinite, timeout >= 0, timeout <= 86_400 else { throw ValidationError("--timeout: 0 to 86400 seconds") }
    }

    func run() throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        var last = ""
        repeat {
            if let base = url ?? (try? String(contentsOfFile: file!, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines),
               !base.isEmpty {
                do {
                    let answer = try HTTPGet.get(base, path, timeoutSeconds: 2)
                    if answer.status == 200 {
                        print("\(base)\(path): 200 \(answer.body.trimmingCharacters(in: .whitespacesAndNewlines))")
                        return
                    }
                    last = "\(answer.status) \(answer.body.trimmingCharacters(in: .whitespacesAndNewlines))"
                } catch {
                    last = "\(error)"
                }
            } else {
                last = "no URL in \(file ?? "") yet"
            }
            if ContinuousClock.now >= deadline { break }
            Thread.sleep(forTimeInterval: 0.2)
        } while ContinuousClock.now < deadline
        FileHandle.standardError.write(Data("probe: \(url ?? file ?? "")\(path) not ready after \(timeout) s: \(last)\n".utf8))
        throw ExitCode(1)
    }
}
