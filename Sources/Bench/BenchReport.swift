import Foundation
import WorldCore

/// One benchmark's figures, printed as a table or as JSON.
public struct BenchReport: Codable, Sendable {
    public struct Figure: Codable, Sendable {
        public let name: String
        public let value: Double
        public let unit: String
    }

    public let benchmark: String
    public let parameters: [String: String]
    public var figures: [Figure] = []
    /// Ratios of our figure over the baseline measured in the same run.
    public var ratios: [Figure] = []
    public var notes: [String] = []

    public init(benchmark: String, parameters: [String: String]) {
        self.benchmark = benchmark
        self.parameters = parameters
    }

    public mutating func add(_ name: String, _ value: Double, _ unit: String) {
        figures.append(Figure(name: name, value: value, unit: unit))
    }

    public mutating func ratio(_ name: String, _ value: Double) {
        ratios.append(Figure(name: name, value: value, unit: "x"))
    }

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? "{}"
    }

    public func table() -> String {
        var lines = ["bench \(benchmark) (" + parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + ")"]
        let width = (figures + ratios).map(\.name.count).max() ?? 10
        for f in figures + ratios {
            lines.append("  " + f.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + Self.format(f.value) + " " + f.unit)
        }
        lines += notes.map { "  note: \($0)" }
        return lines.joined(separator: "\n")
    }

    static func format(_ v: Double) -> String {
        if v >= 1000 { return String(format: "%.0f", v) }
        if v >= 10 { return String(format: "%.1f", v) }
        return String(format: "%.3f", v)
    }
}

/// Times a body on the monotonic clock.
func measure(_ body: () throws -> Void) rethrows -> Duration {
    let start = ContinuousClock.now
    try body()
    return ContinuousClock.now - start
}

extension Duration {
    var seconds: Double { milliseconds / 1000 }
}
