import Yams

/// A parsed YAML document, reduced to what configuration needs: mappings, lists and scalars,
/// each with the line it came from.
indirect enum ConfigNode: Equatable {
    case scalar(String, line: Int?)
    case mapping([(key: String, value: ConfigNode)], line: Int?)
    case sequence([ConfigNode], line: Int?)

    static func == (a: ConfigNode, b: ConfigNode) -> Bool {
        switch (a, b) {
        case let (.scalar(x, _), .scalar(y, _)): x == y
        case let (.sequence(x, _), .sequence(y, _)): x == y
        case let (.mapping(x, _), .mapping(y, _)):
            x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }

    var line: Int? {
        switch self {
        case .scalar(_, let line), .mapping(_, let line), .sequence(_, let line): line
        }
    }

    /// Parses YAML text. An empty document is an empty mapping.
    static func parse(_ text: String, source: String) throws(ConfigError) -> ConfigNode {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw ConfigError(source: source, problems: [.init(keyPath: "", message: "not valid YAML: \(error)")])
        }
        guard let node else { return .mapping([], line: nil) }
        return try convert(node, path: "", source: source)
    }

    private static func convert(_ node: Node, path: String, source: String) throws(ConfigError) -> ConfigNode {
        let line = node.mark.map { $0.line }
        switch node {
        case .scalar(let scalar):
            return .scalar(scalar.string, line: line)
        case .sequence(let sequence):
            var items: [ConfigNode] = []
            for (index, item) in sequence.enumerated() {
                items.append(try convert(item, path: "\(path)[\(index)]", source: source))
            }
            return .sequence(items, line: line)
        case .mapping(let mapping):
            var entries: [(key: String, value: ConfigNode)] = []
            for (key, value) in mapping {
                guard let name = key.scalar?.string else {
                    throw ConfigError(source: source, problems: [
                        .init(keyPath: path, message: "keys must be plain names", line: line),
                    ])
                }
                let child = path.isEmpty ? name : "\(path).\(name)"
                if entries.contains(where: { $0.key == name }) {
                    throw ConfigError(source: source, problems: [
                        .init(keyPath: child, message: "appears twice", line: key.mark?.line),
                    ])
                }
                entries.append((name, try convert(value, path: child, source: source)))
            }
            return .mapping(entries, line: line)
        case .alias:
            throw ConfigError(source: source, problems: [
                .init(keyPath: path, message: "YAML aliases are not supported in cluster.yml", line: line),
            ])
        }
    }

    /// Sets `value` at a dotted key path, creating mappings on the way (for overrides).
    mutating func set(_ path: [String], _ value: ConfigNode) {
        guard let head = path.first else {
            self = value
            return
        }
        guard case .mapping(var entries, let line) = self else {
            self = .mapping([], line: nil)
            set(path, value)
            return
        }
        if let index = entries.firstIndex(where: { $0.key == head }) {
            entries[index].value.set(Array(path.dropFirst()), value)
        } else {
            var child = ConfigNode.mapping([], line: nil)
            child.set(Array(path.dropFirst()), value)
            entries.append((head, child))
        }
        self = .mapping(entries, line: line)
    }
}
