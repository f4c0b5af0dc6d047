import Foundation
import Postgres

/// The private PostgreSQL that scripts/test starts, found through the standard libpq variables.
public enum TestDatabase {
    public struct NotConfigured: Error, CustomStringConvertible {
        public var description: String {
            "PGHOST/PGPORT are not set: run the tests through scripts/test, which starts a private PostgreSQL"
        }
    }

    /// Parameters for the server's default database.
    public static func parameters(database: String? = nil) throws -> ConnectionParameters {
        let env = ProcessInfo.processInfo.environment
        guard let host = env["PGHOST"], let port = env["PGPORT"].flatMap(Int.init) else { throw NotConfigured() }
        return ConnectionParameters(
            host: host, port: port, user: env["PGUSER"], database: database ?? env["PGDATABASE"],
            connectTimeoutSeconds: 5, applicationName: "cellcluster-tests")
    }

    public static func connect(database: String? = nil) throws -> Connection {
        try Connection(parameters(database: database))
    }

    /// Runs `body` against a database created for it alone, dropped afterwards.
    public static func withFreshDatabase<T>(_ body: (ConnectionParameters) throws -> T) throws -> T {
        let name = "test_\(UInt64.random(in: 0...UInt64.max) & 0xFFFF_FFFF_FFFF)"
        let admin = try connect()
        defer { admin.close() }
        try admin.execute(script: "CREATE DATABASE \(name)")
        defer { _ = try? admin.execute(script: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
        return try body(parameters(database: name))
    }

    /// A loopback TCP port nothing listens on (bound, then released).
    public static func unusedPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

extension TestDatabase {
    /// `withFreshDatabase` for async bodies.
    public static func withFreshDatabaseAsync<T>(_ body: @Sendable (ConnectionParameters) async throws -> T) async throws -> T {
        let name = "test_\(UInt64.random(in: 0...UInt64.max) & 0xFFFF_FFFF_FFFF)"
        do {
            let admin = try connect()
            try admin.execute(script: "CREATE DATABASE \(name)")
        }
        defer {
            if let admin = try? connect() { _ = try? admin.execute(script: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
        }
        return try await body(parameters(database: name))
    }
}
