import Foundation
import ProcessKit
import Testing

/// The hosts file `scripts/hosts up` writes, as ProcessKit reads it.
@Suite struct HostMapTests {
    static func file(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cellcluster-hosts-\(UUID().uuidString)").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func readsEachHostAndLaunchesThroughItsNamespace() throws {
        let path = try Self.file("pg cc1-pg 10.235.7.2\nc1 cc1-c1 10.235.7.3\nw1 cc1-w1 10.235.7.4 cc1-lan v3\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let map = try HostMap(file: path)
        #expect(try map.endpoint("w1") == "tcp://10.235.7.4:0")
        #expect(try map.launcher("c1") == ["/usr/sbin/ip", "netns", "exec", "cc1-c1"])
        #expect(try map.host("w1").lan == "cc1-lan" && map.host("w1").link == "v3" && map.host("c1").link == nil)
        #expect(throws: ProcessKitError.self) { try map.setLink("c1", up: false) }  // no link named
        do {
            _ = try map.host("w2")
            Issue.record("a host that is not there was found")
        } catch {
            #expect("\(error)".contains("no host for w2"))
        }
    }

    @Test func aMalformedLineIsNamed() throws {
        for text in ["w1 cc1-w1\n", "w1 cc1-w1 10.0.0.1 cc1-lan\n", "w1 cc1-w1 10.235.7\n", "w1 a 10.0.0.1\nw1 b 10.0.0.2\n", ""] {
            let path = try Self.file(text)
            defer { try? FileManager.default.removeItem(atPath: path) }
            #expect(throws: ProcessKitError.self) { try HostMap(file: path) }
        }
        #expect(throws: ProcessKitError.self) { try HostMap(file: "/nonexistent/hosts") }
    }
}
