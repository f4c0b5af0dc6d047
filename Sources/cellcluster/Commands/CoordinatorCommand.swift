import ArgumentParser
import Cluster
import Logging

struct CoordinatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Run the coordinator: it splits the world among the workers and keeps the map in PostgreSQL.",
        discussion: "Prints `ready coordinator endpoint=<endpoint> map_epoch=<n> pid=<pid>` once it serves."
    )

    @OptionGroup var settings: SettingsOptions

    @Option(help: "Endpoint to bind (overrides coordinator.endpoint); port 0 picks a free port.")
    var bind: String?

    @Option(help: "Log level.")
    var logLevel: Logger.Level = .info

    func run() throws {
        let s = try settings.load()
        bootstrapLogging(logLevel)
        Shutdown.installHandlers()
        let node = try CoordinatorNode(settings: s, bind: bind, logger: Logger(label: "cellcluster.coordinator"))
        let code = node.run()
        if code != 0 { throw ExitCode(code) }
    }
}
