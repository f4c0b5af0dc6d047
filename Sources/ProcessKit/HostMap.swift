import Foundation

/// Hosts of their own on one machine (`scripts/hosts up`): for each process name (c1, c2, w1, …)
/// the network namespace it runs in and its address there. A process started on a host runs
/// through `ip netns exec` (which execs: its PID is the process's own) and binds that address.
public struct HostMap: Sendable, Equatable {
    public struct Host: Sendable, Equatable {
        public let namespace: String
        public let address: String
        /// The LAN's namespace and this host's port on its bridge (nil in a three-column file).
        public var lan: String? = nil
        public var link: String? = nil
    }

    public let hosts: [String: Host]
    public static let ip = "/usr/sbin/ip"

    public init(hosts: [String: Host]) {
        self.hosts = hosts
    }

    /// Reads the file `scripts/hosts up` writes: one `NAME NAMESPACE ADDRESS [LAN LINK]` line per host.
    /// - Throws: `ProcessKitError` naming the file and the line that is not of that form.
    public init(file: String) throws {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw ProcessKitError("cannot read the hosts file \(file)") }
        var hosts: [String: Host] = [:]
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            let words = line.split(separator: " ").map(String.init)
            guard words.count == 3 || words.count == 5, words[2].split(separator: ".").count == 4, hosts[words[0]] == nil else {
                throw ProcessKitError("\(file):\(number + 1): expected NAME NAMESPACE ADDRESS [LAN LINK] (each name once), got \"\(line)\"")
            }
            hosts[words[0]] = Host(namespace: words[1], address: words[2], lan: words.count == 5 ? words[3] : nil,
                                   link: words.count == 5 ? words[4] : nil)
        }
        guard !hosts.isEmpty else { throw ProcessKitError("the hosts file \(file) lists no host") }
        self.hosts = hosts
    }

    /// The host for process `name`.
    /// - Throws: `ProcessKitError` when the file has none (start fewer workers, or make more hosts).
    public func host(_ name: String) throws -> Host {
        guard let host = hosts[name] else {
            throw ProcessKitError("no host for \(name) (hosts: \(hosts.keys.sorted().joined(separator: ", "))): make one with scripts/hosts up")
        }
        return host
    }

    /// Cuts host `name` off the LAN (`up: false`: its port on the bridge goes down) or connects
    /// it again.
    /// - Throws: `ProcessKitError` when the file names no link for it, or `ip` fails.
    public func setLink(_ name: String, up: Bool) throws {
        let host = try host(name)
        guard let lan = host.lan, let link = host.link else { throw ProcessKitError("the hosts file names no LAN link for \(name)") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.ip)
        process.arguments = ["-n", lan, "link", "set", link, up ? "up" : "down"]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ProcessKitError("ip -n \(lan) link set \(link) \(up ? "up" : "down") failed") }
    }

    /// The command that runs a program on `name`'s host.
    public func launcher(_ name: String) throws -> [String] { [Self.ip, "netns", "exec", try host(name).namespace] }

    /// `tcp://ADDRESS:port` on `name`'s host.
    public func endpoint(_ name: String, port: Int = 0) throws -> String { "tcp://\(try host(name).address):\(port)" }
}
