import ArgumentParser
import Cluster
import Foundation
import Logging

struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a worker: it owns cells, answers clients and checkpoints to PostgreSQL.",
        discussion: """
            Prints `ready worker=<id> endpoint=<endpoint> pid=<pid> metrics=<url>` on standard output once it serves
            (metrics=none when metrics.listen is none). /readyz answers 200 while it holds a lease and serves.
            SIGTERM in a cluster: hand every cell to the other workers (through the coordinator), then a
            final checkpoint and exit; alone, or with SIGINT (what `scripts/cluster down` sends): the final
            checkpoint of everything unsaved, no hand-off. Exit 0 when all was saved.
            """
    )

    @OptionGroup var settings: SettingsOptions

    @Option(help: "This worker's id.")
    var id = "w1"

    @Option(help: "Endpoint to bind (overrides workers.bind); port 0 picks a free port.")
    var bind: String?

    @Option(help: "The address peers and clients use, tcp://host or tcp://host:port (overrides workers.advertise; required with a wildcard bind).")
    var advertise: String?

    @Option(help: ArgumentHelp("Where to serve /metrics, /healthz and /readyz over HTTP, host:port (port 0: a free one) or none (overrides metrics.listen).", valueName: "host:port"))
    var metrics: String?

    @Option(help: ArgumentHelp("Write the metrics URL to this file once it listens (removed at exit): for a supervisor, or `cellcluster probe --file`.", valueName: "path"))
    var metricsFile: String?

    @Option(help: "Ownership epoch to write under (without a coordinator).")
    var epoch: UInt64 = 1

    @Option(help: "The coordinators' endpoints, comma-separated (leader and standbys, any order); without it the worker owns the whole world alone.")
    var coordinator: String?

    @Option(help: ArgumentHelp("Testing: SIGKILL this worker at a step (repeatable): handoff.source-before-send, handoff.source-after-send, handoff.target-after-receive, handoff.target-after-commit, handoff.source-after-ack.", valueName: "step"))
    var fault: [String] = []

    @Option(help: ArgumentHelp("How many recent answers to keep for retries of changes that are not durable (durable changes' ids are kept for events.request_retention_s whatever this is).", valueName: "count"))
    var recentReplies = 262_144

    @Option(help: ArgumentHelp("How long a loop turn acts on storage's answers (loads of a takeover, claims) before it serves requests again; at least one answer a turn.", valueName: "ms"))
    var storageTurnMs = 20

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    @Option(help: "Log lines: text, or json (one object per line: ts, level, logger, msg, source and the metadata).")
    var logFormat: LogFormat = .text

    func run() throws {
        let s = try settings.load()
        bootstrapLogging(logLevel, format: logFormat)
        Shutdown.installHandlers()
        let node = try WorkerNode(settings: s, options: .init(id: id, bind: bind, advertise: advertise, epoch: epoch, coordinator: coordinator, faults: Set(fault), metrics: metrics, metricsFile: metricsFile, recentReplies: recentReplies,
                                                                  storageTurn: .milliseconds(min(max(0, storageTurnMs), 60_000))), logger: Logger(label: "cellcluster.worker"))
        let code = node.run()
        if code != 0 { throw ExitCode(code) }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

extension LogFormat: ExpressibleByArgument {}

/// Logs go to standard error, one line each with a millisecond UTC timestamp; standard output
/// carries the ready line and command output.
func bootstrapLogging(_ level: Logger.Level, format: LogFormat) {
    LoggingSystem.bootstrap { label in LineLogHandler(label: label, level: level, format: format) }
}
