import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Loopback TCP ports for tests that must name fixed ports.
public enum LoopbackPorts {
    /// A loopback TCP port nobody listens on now (bound to port 0, then released).
    public static func free() throws -> Int {
        guard let fd = boundSocket(port: 0) else { throw WorkerProcessError(message: "no free port: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        guard named else { throw WorkerProcessError(message: "no free port: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The first of `count` consecutive loopback ports that can each be bound now, below the
    /// kernel's ephemeral range: ports in that range are handed to every outgoing connection
    /// (PostgreSQL clients, ZeroMQ peers of the tests running alongside), so a range picked there
    /// may be taken between the pick and the use. The search starts at a point derived from the
    /// process id, so concurrent test processes rarely pick the same run.
    public static func freeRun(count: Int) throws -> Int {
        let floor = 20_000
        let ceiling = ephemeralStart() - count
        guard ceiling > floor else { throw WorkerProcessError(message: "no room below the ephemeral ports (\(ephemeralStart()))") }
        let span = ceiling - floor
        let start = Int(getpid()) % span
        for step in 0..<min(span, 2_000) {
            let first = floor + (start + step * (count + 1)) % span
            if (first..<first + count).allSatisfy(canBind) { return first }
        }
        throw WorkerProcessError(message: "no \(count) consecutive free loopback ports between \(floor) and \(ceiling + count)")
    }

    /// The first port of `net.ipv4.ip_local_port_range` (32768 when it cannot be read).
    public static func ephemeralStart() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8),
              let first = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first,
              let port = Int(first) else { return 32_768 }
        return port
    }

    /// Whether a listening socket could take `port` on 127.0.0.1 now.
    static func canBind(_ port: Int) -> Bool {
        guard let fd = boundSocket(port: port) else { return false }
        close(fd)
        return true
    }

    /// A TCP socket bound to 127.0.0.1:`port` (0: a port the kernel picks), or nil with `errno`
    /// set; the caller closes it.
    private static func boundSocket(port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = loopback(port: port)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard bound else {
            let saved = errno
            close(fd)
            errno = saved
            return nil
        }
        return fd
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return address
    }
}
