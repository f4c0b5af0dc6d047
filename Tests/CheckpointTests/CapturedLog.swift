import Logging
import Synchronization

/// Log lines kept for a test to read.
final class CapturedLines: Sendable {
    private let lines = Mutex<[(message: String, metadata: [String: String])]>([])
    var all: [(message: String, metadata: [String: String])] { lines.withLock { $0 } }
    func append(_ message: String, _ metadata: [String: String]) { lines.withLock { $0.append((message, metadata)) } }
}

struct CapturingLogHandler: LogHandler {
    let lines: CapturedLines
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    init(_ lines: CapturedLines) { self.lines = lines }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        lines.append("\(event.message)", (event.metadata ?? [:]).mapValues { "\($0)" })
    }
}
