import Testing
@testable import Config

@Suite struct OverrideTests {
    @Test func commandLineOverridesTheFile() throws {
        let s = try ClusterSettings.load(
            yaml: "checkpoint: {batch_size: 10}", source: "t",
            overrides: ["checkpoint.batch_size=500", "cache.policies=[ttl]", "world.cell_size=32"])
        #expect(s.checkpoint.batchSize == 500)
        #expect(s.cache.policies == [.ttl])
        #expect(s.world.cellSize == 32)
    }

    @Test func anEmptyOverrideIsTheEmptyString() throws {
        let s = try ClusterSettings.load(yaml: "", source: "t", overrides: ["coordinator.standby=", "security.keys="])
        #expect(s.coordinator.standby == "" && s.coordinator.endpoints == [s.coordinator.endpoint])
        #expect(s.security.folder == nil)
    }

    @Test func aBadOverrideNamesItsKeyPath() throws {
        let unknown = try #require(throws: ConfigError.self) {
            try ClusterSettings.load(yaml: "", source: "t", overrides: ["checkpoint.batchsize=5"])
        }
        #expect(unknown.keyPaths == ["checkpoint.batchsize"])
        let invalid = try #require(throws: ConfigError.self) {
            try ClusterSettings.load(yaml: "", source: "t", overrides: ["workers.count=-3"])
        }
        #expect(invalid.keyPaths == ["workers.count"])
        let shapeless = try #require(throws: ConfigError.self) {
            try ClusterSettings.load(yaml: "", source: "t", overrides: ["workers.count"])
        }
        #expect(shapeless.description.contains("key.path=value"))
    }

    @Test func theDurableGroupIsEightByDefaultAndBounded() throws {
        #expect(try ClusterSettings.load(yaml: "", source: "t").checkpoint.durableGroup == 8)
        let off = try ClusterSettings.load(yaml: "checkpoint: {durable_group: 0}", source: "t")
        #expect(off.checkpoint.durableGroup == 0)
        let negative = try #require(throws: ConfigError.self) {
            try ClusterSettings.load(yaml: "checkpoint: {durable_group: -1}", source: "t")
        }
        #expect(negative.keyPaths == ["checkpoint.durable_group"])
    }

    @Test func libpqEnvironmentOverridesThePostgresSection() throws {
        let s = try ClusterSettings.load(
            yaml: "postgres: {host: db.example, port: 5432}", source: "t",
            environment: ["PGHOST": "127.0.0.1", "PGPORT": "6543", "PGUSER": "game", "PGDATABASE": "world", "PGPASSWORD": "x"])
        #expect(s.postgres.host == "127.0.0.1")
        #expect(s.postgres.port == 6543)
        #expect(s.postgres.user == "game")
        #expect(s.postgres.database == "world")
    }

    @Test func theKeysFolderComesFromTheEnvironmentAndNoneTurnsCurveOff() throws {
        let fromEnv = try ClusterSettings.load(yaml: "security: {keys: /etc/cc}", source: "t", environment: ["CELLCLUSTER_KEYS": "/run/keys"])
        #expect(fromEnv.security.folder == "/run/keys")
        #expect(try ClusterSettings.load(yaml: "security: {keys: none}", source: "t").security.folder == nil)
        #expect(try ClusterSettings.load(yaml: "", source: "t").security.folder == nil)
        #expect(try ClusterSettings.load(yaml: "postgres: {sslmode: require}", source: "t").postgres.sslmode == "require")
    }

    @Test func aWorkerAdvertisesTheHostItIsGivenWithTheBoundPort() throws {
        #expect(WorkerSettings.advertised(bound: "tcp://0.0.0.0:41234", advertise: "tcp://10.0.0.5") == "tcp://10.0.0.5:41234")
        #expect(WorkerSettings.advertised(bound: "tcp://0.0.0.0:41234", advertise: "tcp://game-7.example:0") == "tcp://game-7.example:41234")
        #expect(WorkerSettings.advertised(bound: "tcp://0.0.0.0:41234", advertise: "tcp://10.0.0.5:7000") == "tcp://10.0.0.5:7000")
        #expect(WorkerSettings.advertised(bound: "tcp://127.0.0.1:5555", advertise: "") == "tcp://127.0.0.1:5555")
        #expect(WorkerSettings.isWildcard("tcp://*:0") && WorkerSettings.isWildcard("tcp://0.0.0.0:1") && !WorkerSettings.isWildcard("tcp://127.0.0.1:0"))
        let s = try ClusterSettings.load(yaml: "workers: {bind: 'tcp://*:0', advertise: 'tcp://10.0.0.5'}", source: "t")
        #expect(s.workers.advertise == "tcp://10.0.0.5")
    }

    @Test func aBadEnvironmentValueNamesTheKey() throws {
        let error = try #require(throws: ConfigError.self) {
            try ClusterSettings.load(yaml: "", source: "t", environment: ["PGPORT": "abc"])
        }
        #expect(error.keyPaths == ["postgres.port"])
    }
}
