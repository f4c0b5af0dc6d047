import Foundation
import Testing
@testable import Fuzzing
import Wire

/// The fuzz targets on the committed corpus (every protocol message, plus what fuzzing found),
/// in an ordinary build: a crash found once stays fixed.
struct CorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus")

    static func files(_ target: String) throws -> [[UInt8]] {
        let folder = corpus.appendingPathComponent(target)
        return try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().map {
            [UInt8](try Data(contentsOf: folder.appendingPathComponent($0)))
        }
    }

    @Test func theCommittedCorpusHoldsEveryMessageAndRunsClean() throws {
        let wire = try Self.files("wire"), worker = try Self.files("worker")
        #expect(wire.count >= SeedCorpus.wire.count && worker.count >= SeedCorpus.worker.count)
        for seed in SeedCorpus.wire { #expect(wire.contains(seed), "a seed is missing: run cellcluster-fuzz seed Fuzz/corpus") }
        for input in wire { WireDecoderTarget.run(input) }
        for input in worker { WorkerCoreTarget.run(input) }
    }

    @Test func theWorkerTargetReachesTheCoreForEachRole() {
        // A spawn then a move by a client: applied; a handoff offer by a client: stopped at the gate.
        var world = WorkerCoreTarget()
        let frames = SeedCorpus.wire
        world.handle(frames[0], user: "client/fuzz")
        #expect(world.shard.entity(.init(7)) != nil)
        world.handle(frames[2], user: "client/fuzz")
        #expect(world.shard.entity(.init(7))?.position.x == 130)
        let offer = frames.first { (try? WireFormat.decode($0))?.handoffOffer.handoffID == 11 }!
        world.handle(offer, user: "client/fuzz")
        #expect(world.shard.entity(.init(21)) == nil)
        world.handle(offer, user: "worker/worker")
        #expect(world.shard.entity(.init(21)) != nil)
    }
}
