import ArgumentParser
import Cluster
import Logging

struct CoordinatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Run the coordinator: it splits the world among the workers and keeps the map in PostgreSQL.",
        discussion: """
            Prints `ready coordinator endpoint=<endpoint> feed=<endpoint> role=leader|standby map_epoch=<n> pid=<pid> metrics=<url>` \
            once it serves. Several may run (each with its own --id and endpoint): one leads, by a lease \
            in PostgreSQL; the others stand by and take over when its lease runs out.
            """
    )

    @OptionGroup var settings: SettingsOptions

    @Option(help: "Endpoint to bind (overrides coordinator.endpoint); port 0 picks a free port.")
    var bind: String?

    @Option(help: "The address workers and clients reach this coordinator at, tcp://host or tcp://host:port (overrides coordinator.advertise; required with a wildcard bind).")
    var advertise: String?

    @Option(help: "This coordinator's name, unique among the cluster's coordinators (the standby: c2).")
    var id: String = "c1"

    @Option(help: ArgumentHelp("Where to serve /metrics, /healthz and /readyz over HTTP, host:port (port 0: a free one) or none (overrides metrics.listen).", valueName: "host:port"))
    var metrics: String?

    @Option(help: ArgumentHelp("Write the metrics URL to this file once it listens (removed at exit): for a supervisor, or `cellcluster probe --file`.", valueName: "path"))
    var metricsFile: String?

    @Option(help: "Log level.")
    var logLevel: Logger.Level = .info

    @Option(help: "Log lines: text, or json (one object per line: ts, level, logger, msg, source and the metadata).")
    var logFormat: LogFormat = .text

    func run() throws {
        let s = try settings.load()
        bootstrapLogging(logLevel, format: logFormat)
        Shutdown.installHandlers()
        let node = try CoordinatorNode(settings: s, name: id, bind: bind, advertise: advertise, metricsListen: metrics, metricsFile: metricsFile, logger: Logger(label: "cellcluster.coordinator"))
        let code = node.run()
        if code != 0 { throw ExitCode(code) }
    }
}
