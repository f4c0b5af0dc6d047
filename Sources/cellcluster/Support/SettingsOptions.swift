import ArgumentParser
import Config
import Foundation
import Security
import ZeroMQ

/// Options every command that reads cluster.yml shares.
struct SettingsOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: "Path to cluster.yml (default: the built-in settings, or $CELLCLUSTER_CONFIG).")
    var path: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override one setting, e.g. --set checkpoint.batch_size=500 (repeatable).", valueName: "key.path=value"))
    var overrides: [String] = []

    @Option(help: ArgumentHelp("With CURVE on (security.keys): the key to present, a name in the key folder or a .key_secret path (default: operator for status, admin and soak; client for client).", valueName: "name|path"))
    var key: String?

    /// Loads and validates the settings; the process environment supplies PGHOST and friends.
    func load() throws -> ClusterSettings {
        let environment = ProcessInfo.processInfo.environment
        let file = path ?? environment["CELLCLUSTER_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        return try ClusterSettings.load(file: file, overrides: overrides, environment: environment)
    }

    /// A ZeroMQ context for a command that connects: CURVE with `--key` (or `defaultKey`) from
    /// security.keys, or plain sockets when security.keys is not set.
    func context(_ settings: ClusterSettings, defaultKey: Role) throws -> Context {
        try KeyRing.context(keysFolder: settings.security.folder, presenting: key ?? defaultKey.rawValue, serving: false)
    }
}
