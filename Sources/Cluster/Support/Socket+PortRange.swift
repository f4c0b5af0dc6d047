import Config
import Foundation
import ZeroMQ

extension Socket {
    /// Binds `endpoint`, or the first free port of its range (`tcp://host:7410-7419`).
    /// - Returns: the endpoint bound, with its port.
    /// - Throws: `ZMQError`, or `ConfigError` naming `key` when every port of the range is taken.
    func bindFirstFree(_ endpoint: String, key: String, process: String) throws -> String {
        let candidates = PortRange.candidates(endpoint)
        for candidate in candidates {
            do {
                return try bind(candidate)
            } catch {
                // Taken: the next port of the range. (A `catch … where` here crashed the compiler.)
                guard error.code == EADDRINUSE, candidates.count > 1 else { throw error }
            }
        }
        throw ConfigError(source: process, problems: [.init(keyPath: key, message: "every port of \(endpoint) is taken")])
    }
}
