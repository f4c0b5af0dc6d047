import Testing
@testable import Config

@Suite struct ValidationTests {
    /// Each broken file, and the key path its error must name.
    static let cases: [(yaml: String, keyPath: String)] = [
        ("world: {cell_size: 0}", "world.cell_size"),
        ("world: {width: -1}", "world.width"),
        ("world: {height: .nan}", "world.height"),
        ("world: {width: 100, height: 100, cell_size: 200}", "world.cell_size"),
        ("world: {widht: 100}", "world.widht"),
        ("world: 5", "world"),
        ("wrld: {}", "wrld"),
        ("coordinator: {endpoint: 'http://127.0.0.1:80'}", "coordinator.endpoint"),
        ("coordinator: {endpoint: 'tcp://127.0.0.1'}", "coordinator.endpoint"),
        ("workers: {count: 0}", "workers.count"),
        ("workers: {count: two}", "workers.count"),
        ("workers: {bind: 'tcp://127.0.0.1:99999'}", "workers.bind"),
        ("postgres: {port: 70000}", "postgres.port"),
        ("postgres: {password: hunter2}", "postgres.password"),
        ("postgres: {host: ''}", "postgres.host"),
        ("postgres: {sslmode: always}", "postgres.sslmode"),
        ("workers: {bind: 'tcp://*:0'}", "workers.advertise"),
        ("workers: {bind: 'tcp://0.0.0.0:7000', advertise: 'tcp://0.0.0.0'}", "workers.advertise"),
        ("workers: {advertise: 'udp://host'}", "workers.advertise"),
        ("security: {key: x}", "security.key"),
        ("checkpoint: {mode: fast}", "checkpoint.mode"),
        ("checkpoint: {batch_size: 0}", "checkpoint.batch_size"),
        ("checkpoint: {retry_initial_ms: 500, retry_max_ms: 100}", "checkpoint.retry_max_ms"),
        ("checkpoint: {batch_size: 500, max_unsaved_changes: 100}", "checkpoint.max_unsaved_changes"),
        ("cache: {policies: [lru, fifo]}", "cache.policies"),
        ("cache: {policies: []}", "cache.policies"),
        ("cache: {active_radius: -1}", "cache.active_radius"),
        ("cache: {max_active_cells: {a: 1}}", "cache.max_active_cells"),
        ("events: {queue_limit: 0}", "events.queue_limit"),
        ("events: {durability: {entity_move: maybe}}", "events.durability.entity_move"),
        ("events: {durability: {teleport: durable}}", "events.durability.teleport"),
        ("leases: {heartbeat_ms: 2000, lease_ms: 3000}", "leases.heartbeat_ms"),
        ("limits: {max_frame_bytes: 100}", "limits.max_frame_bytes"),
        ("checkpoint: {interval_ms: 1000, max_loss_window_ms: 800}", "checkpoint.max_loss_window_ms"),
        ("events: {request_retention_s: 0}", "events.request_retention_s"),
        ("limits: {max_stats_per_entity: 0}", "limits.max_stats_per_entity"),
        ("limits: {max_event_payload_bytes: 2000000}", "limits.max_event_payload_bytes"),
        ("limits: {max_keys: 5}", "limits.max_keys"),
    ]

    @Test(arguments: cases.indices)
    func eachErrorNamesItsKeyPath(index: Int) throws {
        let (yaml, keyPath) = Self.cases[index]
        let error = try #require(throws: ConfigError.self) { try ClusterSettings.load(yaml: yaml, source: "cluster.yml") }
        #expect(error.keyPaths == [keyPath], "\(yaml)")
        #expect(error.description.contains(keyPath))
        #expect(error.description.contains("cluster.yml"))
    }

    @Test func everyProblemIsReportedAtOnceWithItsLine() throws {
        let yaml = """
            world:
              cell_size: 0
            workers:
              count: 0
            """
        let error = try #require(throws: ConfigError.self) { try ClusterSettings.load(yaml: yaml, source: "cluster.yml") }
        #expect(error.keyPaths == ["world.cell_size", "workers.count"])
        #expect(error.problems[0].line == 2)
        #expect(error.problems[1].line == 4)
        #expect(error.description.contains("expected a whole number from 1 to 256, got \"0\""))
    }

    @Test func invalidYamlIsNamed() throws {
        let error = try #require(throws: ConfigError.self) {
            try ClusterSettings.load(yaml: "world: {width: [1, 2\n", source: "broken.yml")
        }
        #expect(error.description.contains("not valid YAML"))
        #expect(error.description.contains("broken.yml"))
    }

    @Test func aDuplicateKeyIsNamed() throws {
        let error = try #require(throws: ConfigError.self) {
            try ClusterSettings.load(yaml: "world:\n  width: 10\n  width: 20\n", source: "t")
        }
        // Yams refuses the document itself; its message names the key.
        #expect(error.description.contains("duplicated key(s): 'width'"))
    }

    @Test func aMissingFileIsNamed() throws {
        let error = try #require(throws: ConfigError.self) { try ClusterSettings.load(file: "/nonexistent/cluster.yml") }
        #expect(error.source == "/nonexistent/cluster.yml")
        #expect(error.description.contains("cannot read"))
    }
}
