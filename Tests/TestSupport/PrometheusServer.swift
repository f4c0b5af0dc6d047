import Foundation
import Telemetry
#if canImport(Glibc)
import Glibc
#endif

/// A real Prometheus (Debian's package) on loopback, scraping `targets` every second, with its
/// data in a temporary folder; stopped by its PID.
public final class PrometheusServer {
    public static let binary = "/usr/bin/prometheus"
    public let url: String
    private let process = Process()
    private let folder: URL
    private let output: URL

    /// - Parameter targets: metrics URLs (`http://127.0.0.1:PORT`), each scraped at /metrics.
    public init(targets: [String]) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("cellcluster-prometheus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let hosts = targets.map { "\"\($0.replacingOccurrences(of: "http://", with: ""))\"" }.joined(separator: ", ")
        let config = """
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: cellcluster
                static_configs:
                  - targets: [\(hosts)]
            """
        try config.write(to: folder.appendingPathComponent("prometheus.yml"), atomically: true, encoding: .utf8)
        let port = try LoopbackPorts.free()
        url = "http://127.0.0.1:\(port)"
        output = folder.appendingPathComponent("prometheus.log")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = [
            "--config.file=\(folder.path)/prometheus.yml", "--storage.tsdb.path=\(folder.path)/data",
            "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
        ]
        let sink = try FileHandle(forWritingTo: output)
        process.standardOutput = sink
        process.standardError = sink
        try process.run()
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if (try? HTTPGet.get(url, "/-/ready", timeoutSeconds: 1))?.status == 200 { return }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        stop()
        throw WorkerProcessError(message: "prometheus did not get ready at \(url): \(self.log.suffix(1000))")
    }

    /// What Prometheus wrote (warnings and errors).
    public var log: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

    /// An instant query's vector, by each sample's `worker` label (else its `instance`).
    public func query(_ promql: String) throws -> [String: Double] {
        let encoded = promql.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? promql
        let response = try HTTPGet.get(url, "/api/v1/query?query=\(encoded)")
        guard response.status == 200,
              let json = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any],
              let data = json["data"] as? [String: Any], let result = data["result"] as? [[String: Any]] else {
            throw WorkerProcessError(message: "prometheus answered \(response.status): \(response.body.prefix(500))")
        }
        var values: [String: Double] = [:]
        for sample in result {
            let metric = sample["metric"] as? [String: String] ?? [:]
            guard let pair = sample["value"] as? [Any], pair.count == 2, let text = pair[1] as? String, let value = Double(text) else { continue }
            values[metric["worker"] ?? metric["instance"] ?? "?"] = value
        }
        return values
    }

    public func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let deadline = ContinuousClock.now + .seconds(10)
            while process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: folder)
    }
}
