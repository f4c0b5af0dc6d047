import ArgumentParser
import Config

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Inspect cluster.yml.",
        subcommands: [Check.self, Defaults.self]
    )

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the settings (file, overrides and environment) and print the result.")

        @OptionGroup var settings: SettingsOptions

        func run() throws {
            let s = try settings.load()
            print("configuration is valid")
            print("  world: \(s.world.width) x \(s.world.height), cell \(s.world.cellSize) -> \(s.world.columns) x \(s.world.rows) cells")
            print("  coordinator: \(s.coordinator.endpoint); workers: \(s.workers.count) binding \(s.workers.bind)")
            print("  standby coordinator: \(s.coordinator.standby.isEmpty ? "none" : s.coordinator.standby); lead lease \(s.coordinator.leaseMs) ms")
            print("  postgres: \(s.postgres.host):\(s.postgres.port)/\(s.postgres.database) as \(s.postgres.user)")
            print("  checkpoint: \(s.checkpoint.mode.rawValue) every \(s.checkpoint.intervalMs) ms, batches of \(s.checkpoint.batchSize)")
            print("  cache: \(s.cache.policies.map(\.rawValue).joined(separator: "+")), \(s.cache.maxActiveCells) cells, radius \(s.cache.activeRadius)")
            let durable = EventKind.allCases.filter { s.events.durability[$0] == .durable }.map(\.rawValue)
            print("  events: queue \(s.events.queueLimit) per cell; durable: \(durable.isEmpty ? "none" : durable.joined(separator: ", "))")
            print("  security: \(s.security.folder.map { "CURVE keys in \($0)" } ?? (s.security.keys == "none" ? "none (CURVE off by choice: anyone who connects is served)" : "off (no CURVE: anyone who connects is served)"))")
            print("  leases: heartbeat \(s.leases.heartbeatMs) ms, lease \(s.leases.leaseMs) ms")
        }
    }

    struct Defaults: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the built-in cluster.yml with every key documented.")

        func run() { print(DefaultConfig.yaml, terminator: "") }
    }
}
