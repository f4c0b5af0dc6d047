/// Collects problems while settings are read, so one run reports every one of them.
final class ProblemList {
    var problems: [ConfigError.Problem] = []
    func add(_ path: String, _ message: String, _ line: Int?) {
        problems.append(.init(keyPath: path, message: message, line: line))
    }
}

/// One mapping of cluster.yml being read: typed getters that fall back to defaults, name the key
/// path in every problem, and report keys that nobody read (typos) when finished.
final class Section {
    let path: String
    private let entries: [(key: String, value: ConfigNode)]
    private let line: Int?
    private let problems: ProblemList
    private var known: [String] = []

    init(path: String, node: ConfigNode?, problems: ProblemList) {
        self.path = path
        self.problems = problems
        switch node {
        case .mapping(let entries, let line)?:
            self.entries = entries
            self.line = line
        case nil:
            self.entries = []
            self.line = nil
        case let other?:
            self.entries = []
            self.line = other.line
            problems.add(path, "expected a mapping of keys to values", other.line)
        }
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private func node(_ key: String) -> ConfigNode? {
        known.append(key)
        return entries.first { $0.key == key }?.value
    }

    /// A nested mapping.
    func section(_ key: String) -> Section {
        Section(path: keyPath(key), node: node(key), problems: problems)
    }

    /// Reports a problem at a key of this section.
    func problem(_ key: String, _ message: String) {
        // The value's own line; none when it came from an override or the environment.
        let at = entries.first { $0.key == key }.map { $0.value.line } ?? line
        problems.add(keyPath(key), message, at)
    }

    /// Marks a key as known without reading it (its presence is checked elsewhere).
    func has(_ key: String) -> Bool {
        known.append(key)
        return entries.contains { $0.key == key }
    }

    private func scalar(_ key: String, expecting: String) -> (String, Int?)? {
        guard let value = node(key) else { return nil }
        guard case .scalar(let text, let line) = value else {
            problems.add(keyPath(key), "expected \(expecting), got a \(value.kind)", value.line)
            return nil
        }
        return (text, line)
    }

    func int(_ key: String, default value: Int, in range: ClosedRange<Int>) -> Int {
        let expecting = "a whole number from \(range.lowerBound) to \(range.upperBound)"
        guard let (text, line) = scalar(key, expecting: expecting) else { return value }
        guard let parsed = Int(text.replacingUnderscores), range.contains(parsed) else {
            problems.add(keyPath(key), "expected \(expecting), got \(text.quotedForMessage)", line)
            return value
        }
        return parsed
    }

    func double(_ key: String, default value: Double, above minimum: Double) -> Double {
        let expecting = "a finite number greater than \(minimum.formattedForMessage)"
        guard let (text, line) = scalar(key, expecting: expecting) else { return value }
        guard let parsed = Double(text.replacingUnderscores), parsed.isFinite, parsed > minimum else {
            problems.add(keyPath(key), "expected \(expecting), got \(text.quotedForMessage)", line)
            return value
        }
        return parsed
    }

    func string(_ key: String, default value: String, check: (String) -> String? = { _ in nil }) -> String {
        guard let (text, line) = scalar(key, expecting: "a string") else { return value }
        if let problem = check(text) {
            problems.add(keyPath(key), problem, line)
            return value
        }
        return text
    }

    func choice<T: RawRepresentable & CaseIterable>(_ key: String, default value: T) -> T where T.RawValue == String {
        let allowed = T.allCases.map(\.rawValue)
        guard let (text, line) = scalar(key, expecting: "one of \(allowed.joined(separator: ", "))") else { return value }
        guard let parsed = T(rawValue: text) else {
            problems.add(keyPath(key), "expected one of \(allowed.joined(separator: ", ")), got \(text.quotedForMessage)", line)
            return value
        }
        return parsed
    }

    /// A list of choices, written as a YAML list or as `a+b` text.
    func choices<T: RawRepresentable & CaseIterable & Hashable>(_ key: String, default value: [T]) -> [T]
    where T.RawValue == String {
        let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
        guard let raw = node(key) else { return value }
        let items: [(String, Int?)]
        switch raw {
        case .scalar(let text, let line):
            items = text.split(separator: "+").map { (String($0).trimmed, line) }
        case .sequence(let nodes, _):
            var collected: [(String, Int?)] = []
            for item in nodes {
                guard case .scalar(let text, let line) = item else {
                    problems.add(keyPath(key), "expected a list of \(allowed)", item.line)
                    return value
                }
                collected.append((text, line))
            }
            items = collected
        case .mapping(_, let line):
            problems.add(keyPath(key), "expected a list of \(allowed), got a mapping", line)
            return value
        }
        var result: [T] = []
        for (text, line) in items {
            guard let parsed = T(rawValue: text) else {
                problems.add(keyPath(key), "expected only \(allowed), got \(text.quotedForMessage)", line)
                return value
            }
            if !result.contains(parsed) { result.append(parsed) }
        }
        if result.isEmpty {
            problems.add(keyPath(key), "needs at least one of \(allowed)", raw.line)
            return value
        }
        return result
    }

    /// Reports every key in this mapping that no getter asked for.
    func finish() {
        for (key, value) in entries where !known.contains(key) {
            let allowed = known.isEmpty ? "" : "; known keys here: \(known.joined(separator: ", "))"
            problems.add(keyPath(key), "unknown key\(allowed)", value.line)
        }
    }
}

extension ConfigNode {
    var kind: String {
        switch self {
        case .scalar: "value"
        case .mapping: "mapping"
        case .sequence: "list"
        }
    }
}

extension String {
    var replacingUnderscores: String { filter { $0 != "_" } }
    var trimmed: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s = s.dropFirst() }
        while s.last?.isWhitespace == true { s = s.dropLast() }
        return String(s)
    }
    var quotedForMessage: String { "\"\(self)\"" }
}

extension Double {
    var formattedForMessage: String {
        self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : String(self)
    }
}
