import Foundation
import Testing
@testable import Config

@Suite struct DefaultsTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func theEmbeddedDefaultsMatchTheCodeDefaults() throws {
        let settings = try ClusterSettings.load(yaml: DefaultConfig.yaml, source: "embedded")
        #expect(settings == ClusterSettings())
    }

    @Test func theShippedClusterYmlIsTheEmbeddedDefault() throws {
        let shipped = try String(contentsOf: Self.repositoryRoot.appendingPathComponent("cluster.yml"), encoding: .utf8)
        #expect(shipped == DefaultConfig.yaml)
    }

    @Test func anEmptyFileTakesEveryDefault() throws {
        #expect(try ClusterSettings.load(yaml: "", source: "empty") == ClusterSettings())
        #expect(try ClusterSettings.load(yaml: "# only a comment\n", source: "comment") == ClusterSettings())
    }

    @Test func noFileMeansTheBuiltInDefaults() throws {
        #expect(try ClusterSettings.load(file: nil) == ClusterSettings())
    }

    @Test func theLossWindowIsTwiceTheIntervalUnlessSet() throws {
        #expect(ClusterSettings().checkpoint.lossWindowMs == 2_000)
        let slow = try ClusterSettings.load(yaml: "checkpoint: {interval_ms: 5000}", source: "t")
        #expect(slow.checkpoint.lossWindowMs == 10_000)
        let unbounded = try ClusterSettings.load(yaml: "checkpoint: {interval_ms: 5000, max_loss_window_ms: 0}", source: "t")
        #expect(unbounded.checkpoint.lossWindowMs == nil)
        let set = try ClusterSettings.load(yaml: "checkpoint: {max_loss_window_ms: 3500}", source: "t")
        #expect(set.checkpoint.lossWindowMs == 3_500)
    }

    @Test func derivedGridSize() throws {
        let s = try ClusterSettings.load(yaml: "world: {width: 1000, height: 500, cell_size: 64}", source: "t")
        #expect(s.world.columns == 16)  // 1000 / 64 = 15.6, rounded up
        #expect(s.world.rows == 8)
    }

    @Test func valuesAreRead() throws {
        let yaml = """
            world: {width: 2048, height: 1024, cell_size: 32}
            workers: {count: 4, bind: "ipc:///tmp/cc-worker"}
            checkpoint: {mode: write_through, interval_ms: 5000, batch_size: 1_000}
            cache: {policies: lru+size, active_radius: 1}
            events: {durability: {entity_action: durable}}
            """
        let s = try ClusterSettings.load(yaml: yaml, source: "t")
        #expect(s.world.width == 2048 && s.world.cellSize == 32)
        #expect(s.workers.count == 4 && s.workers.bind == "ipc:///tmp/cc-worker")
        #expect(s.checkpoint.mode == .writeThrough && s.checkpoint.intervalMs == 5000 && s.checkpoint.batchSize == 1000)
        #expect(s.cache.policies == [.lru, .size] && s.cache.activeRadius == 1)
        #expect(s.events.durability[.entityAction] == .durable)
        #expect(s.events.durability[.entityMove] == .checkpointed)
    }
}
