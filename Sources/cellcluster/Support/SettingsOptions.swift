import ArgumentParser
import Config
import Foundation

/// Options every command that reads cluster.yml shares.
struct SettingsOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: "Path to cluster.yml (default: the built-in settings, or $CELLCLUSTER_CONFIG).")
    var path: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override one setting, e.g. --set checkpoint.batch_size=500 (repeatable).", valueName: "key.path=value"))
    var overrides: [String] = []

    /// Loads and validates the settings; the process environment supplies PGHOST and friends.
    func load() throws -> ClusterSettings {
        let environment = ProcessInfo.processInfo.environment
        let file = path ?? environment["CELLCLUSTER_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        return try ClusterSettings.load(file: file, overrides: overrides, environment: environment)
    }
}
