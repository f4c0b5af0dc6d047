import Config
import Testing

@Suite struct PortRangeTests {
    @Test func aRangeGivesEachPortInOrderAndAPortItself() {
        #expect(PortRange.candidates("tcp://*:7410-7412") == ["tcp://*:7410", "tcp://*:7411", "tcp://*:7412"])
        #expect(PortRange.candidates("tcp://127.0.0.1:0") == ["tcp://127.0.0.1:0"])
        #expect(PortRange.candidates("ipc:///tmp/w1") == ["ipc:///tmp/w1"])
        #expect(MetricsSettings.address(listen: "0.0.0.0:9410-9411")?.ports == [9410, 9411])
        #expect(MetricsSettings.address(listen: "[::1]:0")?.host == "[::1]")
        #expect(MetricsSettings.address(listen: "none") == nil)
    }

    @Test func rangesAreCheckedWhereEndpointsAndListenAddressesAre() throws {
        let good = try ClusterSettings.load(yaml: "workers:\n  bind: tcp://*:7410-7419\n  advertise: tcp://10.0.0.5\nmetrics:\n  listen: 0.0.0.0:9410-9419\n",
                                            source: "test")
        #expect(good.workers.bind == "tcp://*:7410-7419" && good.metrics.listen == "0.0.0.0:9410-9419")
        for (yaml, key) in [
            ("workers:\n  bind: tcp://127.0.0.1:7419-7410\n", "workers.bind"),
            ("workers:\n  bind: tcp://127.0.0.1:0-10\n", "workers.bind"),
            ("workers:\n  bind: tcp://127.0.0.1:1000-9000\n", "workers.bind"),
            ("workers:\n  bind: tcp://127.0.0.1:70000\n", "workers.bind"),
            ("metrics:\n  listen: 127.0.0.1:9410-\n", "metrics.listen"),
            ("metrics:\n  listen: 127.0.0.1:x\n", "metrics.listen"),
        ] {
            let error = #expect(throws: ConfigError.self, "accepted: \(yaml)") { try ClusterSettings.load(yaml: yaml, source: "test") }
            #expect(error?.problems.contains { $0.keyPath == key } == true, "\(String(describing: error))")
        }
    }
}
