import Foundation
import Logging
import Synchronization

/// How log lines look: text for people, JSON (one object per line) for log collectors.
public enum LogFormat: String, Sendable, CaseIterable {
    case text, json
}

/// A swift-log handler that writes one line per record to standard error, with a millisecond UTC
/// timestamp (so the lines of several processes sort into one order), in text or JSON.
public struct LineLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    let label: String
    let format: LogFormat

    public init(label: String, level: Logger.Level, format: LogFormat) {
        self.label = label
        self.logLevel = level
        self.format = format
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let line = Self.line(format: format, time: Date(), level: event.level, label: label, message: "\(event.message)",
                             metadata: merged, source: event.source)
        Self.output.withLock { _ in FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }

    /// Serialises writes, so lines from threads never interleave.
    static let output = Mutex<Void>(())

    /// One record as a line.
    public static func line(format: LogFormat, time: Date, level: Logger.Level, label: String, message: String,
                            metadata: Logger.Metadata, source: String) -> String {
        let stamp = timestamp(time)
        switch format {
        case .text:
            let fields = metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            return "\(stamp) \(level) \(label):\(fields.isEmpty ? "" : " " + fields) [\(source)] \(message)"
        case .json:
            var object: [String: String] = ["ts": stamp, "level": level.rawValue, "logger": label, "msg": message, "source": source]
            for (key, value) in metadata where object[key] == nil { object[key] = "\(value)" }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// ISO 8601 in UTC with milliseconds, e.g. 2026-11-30T14:00:18.123Z.
    static func timestamp(_ time: Date) -> String {
        let total = Int64((time.timeIntervalSince1970 * 1000).rounded())
        var seconds = time_t(total / 1000)
        let millis = Int(total % 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), millis)
    }
}
