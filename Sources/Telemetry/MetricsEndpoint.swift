import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// One process's HTTP endpoint, served by SwiftNIO on one event-loop thread of its own (never
/// the thread that serves requests, nor Swift's cooperative pool):
/// - `GET /metrics`: Prometheus text of `Telemetry.registry`;
/// - `GET /healthz`: 200 while the process runs;
/// - `GET /readyz`: 200 when `readiness` says it serves, 503 naming why not.
public final class MetricsEndpoint: Sendable {
    public enum StartError: Error, CustomStringConvertible {
        case badHost(String)
        case cannotListen(String, String)
        /// Every port asked for is taken.
        case inUse(String)

        public var description: String {
            switch self {
            case .badHost(let host): "metrics.listen: \"\(host)\" is not a numeric IPv4 or IPv6 address"
            case .cannotListen(let address, let why): "metrics.listen: cannot listen on \(address): \(why)"
            case .inUse(let address): "metrics.listen: \(address) is taken (every port of it)"
            }
        }
    }

    /// `http://host:port`, with the port actually bound.
    public let url: String
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    /// The file `publish(to:)` wrote, removed by `stop()`.
    private let published = Mutex<String?>(nil)

    /// Binds `host:port` (port 0: a free one) and serves until `stop()`.
    /// - Throws: `StartError` naming the address.
    public init(host: String, port: Int, readiness: Readiness) throws {
        Telemetry.bootstrap()
        guard (0...65535).contains(port) else { throw StartError.cannotListen("\(host):\(port)", "no such port") }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        let address: SocketAddress
        do {
            address = try SocketAddress(ipAddress: bare, port: port)
        } catch {
            throw StartError.badHost(host)
        }
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
                    channel.pipeline.addHandler(MetricsHandler(readiness: readiness))
                }
            }
            .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
        do {
            channel = try bootstrap.bind(to: address).wait()
        } catch {
            try? group.syncShutdownGracefully()
            if (error as? IOError)?.errnoCode == EADDRINUSE { throw StartError.inUse("\(host):\(port)") }
            throw StartError.cannotListen("\(host):\(port)", "\(error)")
        }
        let bound = channel.localAddress?.port ?? port
        url = bare.contains(":") ? "http://[\(bare)]:\(bound)" : "http://\(bare):\(bound)"
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

    /// Closes the listening socket and ends the server's thread.
    public func stop() {
        if let path = published.withLock({ p in defer { p = nil }; return p }) { unlink(path) }
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}

/// Answers one HTTP request at a time on a connection: the three paths, 404 otherwise, 405 for
/// anything but GET and HEAD.
private final class MetricsHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let readiness: Readiness
    private var request: HTTPRequestHead?

    init(readiness: Readiness) {
        self.readiness = readiness
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break  // a GET carries none worth reading
        case .end:
            guard let head = request else { return }
            request = nil
            let (status, type, body) = answer(head)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: type)
            headers.add(name: "Content-Length", value: "\(body.count)")
            if !head.isKeepAlive { headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            if head.method != .HEAD {
                context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
            }
            let keepAlive = head.isKeepAlive
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                if !keepAlive { context.close(promise: nil) }
            }
        }
    }

    private func answer(_ head: HTTPRequestHead) -> (HTTPResponseStatus, String, [UInt8]) {
        guard head.method == .GET || head.method == .HEAD else {
            return (.methodNotAllowed, "text/plain", Array("only GET and HEAD\n".utf8))
        }
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        switch path {
        case "/metrics":
            return (.ok, "text/plain; version=0.0.4; charset=utf-8", Telemetry.exposition())
        case "/healthz":
            return (.ok, "text/plain", Array("ok\n".utf8))
        case "/readyz":
            let (ready, why) = readiness.current
            return ready ? (.ok, "text/plain", Array("ready\n".utf8)) : (.serviceUnavailable, "text/plain", Array("not ready: \(why)\n".utf8))
        default:
            return (.notFound, "text/plain", Array("not found: try /metrics, /healthz or /readyz\n".utf8))
        }
    }
}
