import Dispatch
import FlyingFox
import FlyingSocks
import Foundation
import Synchronization

/// One process's HTTP endpoint (FlyingFox, on Swift's concurrency threads, never the thread
/// that serves requests):
/// - `GET /metrics`: Prometheus text of `Telemetry.registry`;
/// - `GET /healthz`: 200 while the process runs;
/// - `GET /readyz`: 200 when `readiness` says it serves, 503 naming why not.
public final class MetricsEndpoint: Sendable {
    public enum StartError: Error, CustomStringConvertible {
        case badHost(String)
        case cannotListen(String, String)

        public var description: String {
            switch self {
            case .badHost(let host): "metrics.listen: \"\(host)\" is not a numeric IPv4 or IPv6 address"
            case .cannotListen(let address, let why): "metrics.listen: cannot listen on \(address): \(why)"
            }
        }
    }

    /// `http://host:port`, with the port actually bound.
    public let url: String
    private let server: HTTPServer
    private let task: Task<Void, Never>
    /// The file `publish(to:)` wrote, removed by `stop()`.
    private let published = Mutex<String?>(nil)

    /// Binds `host:port` (port 0: a free one) and serves until `stop()`.
    /// - Throws: `StartError` naming the address when it cannot listen within 5 s.
    public init(host: String, port: Int, readiness: Readiness) throws {
        Telemetry.bootstrap()
        guard let port16 = UInt16(exactly: port) else { throw StartError.cannotListen("\(host):\(port)", "no such port") }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        let server: HTTPServer
        do {
            server = bare.contains(":")
                ? HTTPServer(address: try sockaddr_in6.inet6(ip6: bare, port: port16), timeout: 15, logger: .disabled)
                : HTTPServer(address: try sockaddr_in.inet(ip4: bare, port: port16), timeout: 15, logger: .disabled)
        } catch {
            throw StartError.badHost(host)
        }
        self.server = server
        let started = FirstResult()
        let signal = DispatchSemaphore(value: 0)
        task = Task.detached {
            await Self.addRoutes(server, readiness: readiness)
            do {
                try await server.run()
            } catch {
                if started.offer(.failure(error)) { signal.signal() }
            }
        }
        Task.detached {
            do {
                try await server.waitUntilListening(timeout: 5)
                let bound = await server.listeningAddress
                let text: String = switch bound {
                case .ip4(let ip, let port)?: "http://\(ip):\(port)"
                case .ip6(let ip, let port)?: "http://[\(ip)]:\(port)"
                default: "http://\(host):\(port)"
                }
                if started.offer(.success(text)) { signal.signal() }
            } catch {
                if started.offer(.failure(error)) { signal.signal() }
            }
        }
        if signal.wait(timeout: .now() + 6) == .timedOut {
            task.cancel()
            throw StartError.cannotListen("\(host):\(port)", "not listening after 5 s")
        }
        switch started.value! {
        case .success(let text):
            url = text
        case .failure(let error):
            task.cancel()
            throw StartError.cannotListen("\(host):\(port)", "\(error)")
        }
    }

    private static func addRoutes(_ server: HTTPServer, readiness: Readiness) async {
        await server.appendRoute("GET /metrics") { _ in
            HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                         body: Data(Telemetry.exposition()))
        }
        await server.appendRoute("GET /healthz") { _ in
            HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain"], body: Data("ok\n".utf8))
        }
        await server.appendRoute("GET /readyz") { _ in
            let (ready, why) = readiness.current
            return HTTPResponse(statusCode: ready ? .ok : .serviceUnavailable, headers: [.contentType: "text/plain"],
                                body: Data((ready ? "ready\n" : "not ready: \(why)\n").utf8))
        }
        await server.appendRoute("*") { _ in
            HTTPResponse(statusCode: .notFound, headers: [.contentType: "text/plain"],
                         body: Data("not found: try /metrics, /healthz or /readyz\n".utf8))
        }
    }

    /// Writes the URL (and a newline) to `path`, whole or not at all (a temporary file renamed
    /// over it): what a supervisor or `cellcluster probe --file` reads. `stop()` removes it.
    public func publish(to path: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        try Data((url + "\n").utf8).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, path) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(temporary)
            throw StartError.cannotListen(url, "cannot write \(path): \(why)")
        }
        published.withLock { $0 = path }
    }

    /// Closes the listening socket and ends the server.
    public func stop() {
        if let path = published.withLock({ p in defer { p = nil }; return p }) { unlink(path) }
        let server = self.server
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            await server.stop(timeout: 1)
            done.signal()
        }
        _ = done.wait(timeout: .now() + 2)
        task.cancel()
    }
}

/// The first of the server's two reports (listening, or failed): the one `init` acts on.
private final class FirstResult: Sendable {
    private let result = Mutex<Result<String, any Error>?>(nil)

    /// Keeps `value` unless a result came first; true when it was kept.
    func offer(_ value: Result<String, any Error>) -> Bool {
        result.withLock { r in
            guard r == nil else { return false }
            r = value
            return true
        }
    }

    var value: Result<String, any Error>? { result.withLock { $0 } }
}
