/// Everything wrong with a cluster.yml, each problem named by its key path.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        /// Dotted path of the key at fault, e.g. `checkpoint.batch_size` (empty for the whole file).
        public let keyPath: String
        /// What is wrong and what is allowed.
        public let message: String
        /// 1-based line in the file, when the problem is in the file (not an override).
        public let line: Int?

        public init(keyPath: String, message: String, line: Int? = nil) {
            self.keyPath = keyPath
            self.message = message
            self.line = line
        }

        public var description: String {
            let place = line.map { "line \($0): " } ?? ""
            return keyPath.isEmpty ? "\(place)\(message)" : "\(place)\(keyPath): \(message)"
        }
    }

    /// Where the settings came from: a file path, or "built-in defaults".
    public let source: String
    public let problems: [Problem]

    public init(source: String, problems: [Problem]) {
        self.source = source
        self.problems = problems
    }

    /// The key paths at fault, in the order found.
    public var keyPaths: [String] { problems.map(\.keyPath) }

    public var description: String {
        let count = problems.count == 1 ? "1 problem" : "\(problems.count) problems"
        return "invalid configuration in \(source) (\(count)):\n"
            + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}
