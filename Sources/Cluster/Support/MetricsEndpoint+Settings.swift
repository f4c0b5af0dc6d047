import Config
import Telemetry

extension MetricsEndpoint {
    /// Starts the HTTP endpoint at `listen` (`metrics.listen`, or `--metrics`); nil when it is
    /// `none`. Shared by the worker and the coordinator.
    /// - Throws: `ConfigError` for an address that is not host:port, `MetricsEndpoint.StartError`
    ///   when it cannot listen there.
    /// - Parameter file: where to write the URL once it listens (nil: nowhere).
    static func start(listen: String, for process: String, readiness: Readiness, file: String?) throws -> MetricsEndpoint? {
        if let problem = MetricsSettings.problem(listen: listen) {
            throw ConfigError(source: process, problems: [.init(keyPath: "metrics.listen", message: problem)])
        }
        guard let (host, ports) = MetricsSettings.address(listen: listen) else {
            if file != nil {
                throw ConfigError(source: process, problems: [.init(keyPath: "metrics.listen", message: "is none: there is no URL for --metrics-file")])
            }
            return nil
        }
        var started: MetricsEndpoint?
        for (i, port) in ports.enumerated() {  // a range: the first free port
            do {
                started = try MetricsEndpoint(host: host, port: port, readiness: readiness)
                break
            } catch MetricsEndpoint.StartError.inUse where i < ports.count - 1 {
                continue
            }
        }
        guard let endpoint = started else { throw MetricsEndpoint.StartError.inUse(listen) }
        do {
            if let file { try endpoint.publish(to: file) }
        } catch {
            endpoint.stop()
            throw error
        }
        return endpoint
    }
}
