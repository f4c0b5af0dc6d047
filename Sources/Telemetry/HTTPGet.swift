import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A plain HTTP/1.1 GET over a TCP socket to a numeric IPv4 address (no proxy, no redirects,
/// no TLS): what `cellcluster probe` and the tests ask a process's metrics endpoint.
public enum HTTPGet {
    public struct Response: Sendable {
        public let status: Int
        public let body: String
    }

    public enum Failure: Error, CustomStringConvertible {
        case badURL(String), connect(String, Int32), malformed(String)
        public var description: String {
            switch self {
            case .badURL(let url): "not an http://ipv4:port URL: \(url)"
            case .connect(let url, let errno): "cannot connect to \(url): \(String(cString: strerror(errno)))"
            case .malformed(let text): "not an HTTP response: \(text.prefix(200))"
            }
        }
    }

    /// GETs `path` from `base` (`http://127.0.0.1:PORT`), waiting at most `timeoutSeconds`.
    public static func get(_ base: String, _ path: String, timeoutSeconds: Int = 5) throws -> Response {
        guard base.hasPrefix("http://"), let colon = base.lastIndex(of: ":"),
              let port = UInt16(base[base.index(after: colon)...].prefix { $0.isNumber }) else { throw Failure.badURL(base) }
        let host = String(base.dropFirst("http://".count)[..<colon])
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure.connect(base, errno) }
        defer { close(fd) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw Failure.badURL(base) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure.connect(base, errno) }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let headEnd = text.range(of: "\r\n\r\n"), text.hasPrefix("HTTP/1."),
              let status = Int(text.split(separator: " ", maxSplits: 2).dropFirst().first ?? "") else { throw Failure.malformed(text) }
        return Response(status: status, body: String(text[headEnd.upperBound...]))
    }
}
