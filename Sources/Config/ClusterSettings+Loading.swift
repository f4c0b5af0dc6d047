import Foundation

extension ClusterSettings {
    /// The libpq environment variables that override the `postgres` section.
    public static let postgresEnvironment: [(variable: String, key: String)] = [
        ("PGHOST", "host"), ("PGPORT", "port"), ("PGUSER", "user"), ("PGDATABASE", "database"),
    ]

    /// The environment variable that overrides `security.keys`.
    public static let keysEnvironment = "CELLCLUSTER_KEYS"

    /// Loads settings from a file, or from the built-in defaults when `path` is nil.
    /// - Throws: `ConfigError` listing every problem with its key path; a missing file is one too.
    public static func load(
        file path: String?, overrides: [String] = [], environment: [String: String] = [:]
    ) throws(ConfigError) -> ClusterSettings {
        guard let path else {
            return try load(yaml: DefaultConfig.yaml, source: "built-in defaults", overrides: overrides, environment: environment)
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file"
            throw ConfigError(source: path, problems: [.init(keyPath: "", message: "cannot read the file: \(reason)")])
        }
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.readToEnd() ?? Data()
        } catch {
            throw ConfigError(source: path, problems: [.init(keyPath: "", message: "cannot read the file: \(error)")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(source: path, problems: [.init(keyPath: "", message: "the file is not UTF-8 text")])
        }
        return try load(yaml: text, source: path, overrides: overrides, environment: environment)
    }

    /// Decodes and validates YAML text, then applies `--set key.path=value` overrides and the libpq
    /// environment variables found in `environment`.
    public static func load(
        yaml: String, source: String, overrides: [String] = [], environment: [String: String] = [:]
    ) throws(ConfigError) -> ClusterSettings {
        var tree = try ConfigNode.parse(yaml, source: source)
        var early: [ConfigError.Problem] = []
        for override in overrides {
            guard let equals = override.firstIndex(of: "="), equals != override.startIndex else {
                early.append(.init(keyPath: "", message: "--set expects key.path=value, got \"\(override)\""))
                continue
            }
            let path = override[..<equals].split(separator: ".").map(String.init)
            let text = String(override[override.index(after: equals)...])
            if text.isEmpty {  // `key=`: the empty string (YAML would read an empty document)
                tree.set(path, .scalar("", line: nil))
                continue
            }
            do {
                tree.set(path, try ConfigNode.parse(text, source: "--set \(override)").withoutLines)
            } catch {
                early.append(.init(keyPath: path.joined(separator: "."), message: "--set value is not valid YAML"))
            }
        }
        for (variable, key) in postgresEnvironment {
            if let value = environment[variable], !value.isEmpty {
                tree.set(["postgres", key], .scalar(value, line: nil))
            }
        }
        if let keys = environment[keysEnvironment], !keys.isEmpty {
            tree.set(["security", "keys"], .scalar(keys, line: nil))
        }
        let problems = ProblemList()
        problems.problems = early
        let settings = decode(tree, problems: problems)
        guard problems.problems.isEmpty else { throw ConfigError(source: source, problems: problems.problems) }
        return settings
    }
}

extension ConfigNode {
    /// The same tree with no line numbers (values that came from the command line).
    var withoutLines: ConfigNode {
        switch self {
        case .scalar(let text, _): .scalar(text, line: nil)
        case .sequence(let items, _): .sequence(items.map(\.withoutLines), line: nil)
        case .mapping(let entries, _): .mapping(entries.map { ($0.key, $0.value.withoutLines) }, line: nil)
        }
    }
}
