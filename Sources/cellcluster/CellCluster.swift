import ArgumentParser

@main
struct CellCluster: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cellcluster",
        abstract: "Keeps a large game world's live state in memory and checkpoints it to PostgreSQL.",
        version: CellClusterVersion.string,
        subcommands: [CoordinatorCommand.self, WorkerCommand.self, StatusCommand.self, TopCommand.self, ProbeCommand.self, AdminCommand.self, SoakCommand.self, ClientCommand.self, DatabaseCommand.self, ConfigCommand.self, KeysCommand.self, BenchCommand.self, BenchEchoCommand.self]
    )
}

enum CellClusterVersion {
    static let string = "0.1.0"
}
