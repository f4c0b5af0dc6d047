import ProcessKit

extension ProcessCluster {
    /// A benchmark's cluster: a coordinator and `count` workers of this very executable, logging
    /// warnings only, output kept in memory; stopped by their PIDs when the benchmark ends.
    static func forBenchmark(workers count: Int, environment: [String: String], settings: [String] = []) throws -> ProcessCluster {
        var options = Options(workers: count, settings: settings, environment: environment)
        options.logLevel = "warning"
        options.readyTimeout = .seconds(60)
        return try ProcessCluster(options)
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
