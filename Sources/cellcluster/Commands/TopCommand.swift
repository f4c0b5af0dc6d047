import ArgumentParser
import Client
import Console
import Foundation
import Wire
import ZeroMQ

struct TopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "A live view of the grid: which worker owns each region, where the entities are, the hot cells, each worker's rates.",
        discussion: """
            Redraws every --interval. Each character is a block of cells: the letter of the worker that owns \
            most of it (a, b, c, … in the map's order; upper case where entities are), # for the busiest cells. \
            Below: each worker's cells, active cells, entities, updates and DB operations per second, the age of \
            its oldest unsaved change and its checkpoint p99. Ctrl-C ends it.
            """
    )

    @OptionGroup var settings: SettingsOptions

    @Option(help: "The coordinators' endpoints, comma-separated (default: coordinator.endpoint and coordinator.standby).")
    var coordinator: String?

    @Option(help: "Seconds between frames.")
    var interval: Double = 1

    @Option(help: "Stop after this many frames (0: until Ctrl-C).")
    var frames: Int = 0

    @Flag(help: "No colours (also when TERM is dumb or unset, or standard output is not a terminal).")
    var noColor = false

    func validate() throws {
        guard interval.isFinite, interval >= 0.1, interval <= 3600 else { throw ValidationError("--interval: 0.1 to 3600 seconds") }
        guard frames >= 0 else { throw ValidationError("--frames: 0 or more") }
    }

    func run() throws {
        let s = try settings.load()
        let context = try settings.context(s, defaultKey: .operator)
        let link = try CoordinatorLink(context: context, endpoints: coordinator ?? s.coordinator.endpoints.joined(separator: ","), name: "top")
        let terminal = Terminal()
        let term = ProcessInfo.processInfo.environment["TERM"] ?? ""
        var view = GridView(columns: terminal.columns, rows: terminal.rows,
                            color: !noColor && terminal.isTerminal && !term.isEmpty && term != "dumb")
        var workers: [String: CellClient] = [:]
        var shown = 0
        while frames == 0 || shown < frames {
            let started = ContinuousClock.now
            let size = Terminal()
            view.columns = max(40, size.columns)
            view.rows = max(12, size.rows)
            var lines: [String]
            if let answer = try link.call(.statusRequest(.init()), timeout: .seconds(2)), case .statusReply(let status)? = answer.body {
                let answers = try Self.ask(status.map.workers, clients: &workers, context: context)
                lines = view.render(.init(status: status, workers: answers, at: .now, clock: Self.clock()))
            } else {
                lines = ["cellcluster top  \(Self.clock())", "no answer from the coordinator at \(link.endpoint): retrying"]
            }
            // Home, the frame, and clear what is below it: no flicker of a full clear.
            // (No newline after the last line: on a terminal exactly as tall, it would scroll.)
            print("\u{1B}[H" + lines.map { $0 + "\u{1B}[K" }.joined(separator: "\n") + "\u{1B}[J", terminator: "")
            fflush(nil)
            shown += 1
            if frames != 0 && shown >= frames { break }
            let rest = .milliseconds(Int(interval * 1000)) - (ContinuousClock.now - started)
            if rest > .zero { Thread.sleep(forTimeInterval: Double(rest.components.seconds) + Double(rest.components.attoseconds) / 1e18) }
        }
    }

    /// Every worker's status, asked of all at once, waiting at most half a second in all.
    static func ask(_ infos: [Cellcluster_V1_WorkerInfo], clients: inout [String: CellClient], context: Context) throws -> [String: Cellcluster_V1_WorkerStatus] {
        var sent: [(String, CellClient, UInt64)] = []
        for info in infos where !info.endpoint.isEmpty {
            if clients[info.endpoint] == nil { clients[info.endpoint] = try CellClient(context: context, endpoint: info.endpoint, name: "top") }
            let client = clients[info.endpoint]!
            sent.append((info.workerID, client, try client.send(.statusRequest(.init()))))
        }
        let deadline = ContinuousClock.now + .milliseconds(500)
        var answers: [String: Cellcluster_V1_WorkerStatus] = [:]
        for (id, client, request) in sent {
            while let reply = try client.receive(until: deadline) {
                if reply.requestID == request, case .statusReply(let s)? = reply.body {
                    if let status = s.workers.first { answers[id] = status }
                    break
                }
            }
        }
        return answers
    }

    static func clock() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss"
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date()) + " UTC"
    }
}

/// The terminal's size (ioctl on standard output; COLUMNS and LINES, or 80 x 24, otherwise).
struct Terminal {
    var columns = 80
    var rows = 24
    var isTerminal = isatty(STDOUT_FILENO) == 1

    init() {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0, size.ws_row > 0 {
            columns = Int(size.ws_col)
            rows = Int(size.ws_row)
        } else {
            let environment = ProcessInfo.processInfo.environment
            columns = environment["COLUMNS"].flatMap(Int.init) ?? columns
            rows = environment["LINES"].flatMap(Int.init) ?? rows
        }
    }
}
