import Testing
@testable import Wire
import WorldCore

@Suite struct MalformedFrameTests {
    static let valid: [UInt8] = {
        var envelope = Envelope()
        envelope.requestID = 99
        envelope.sender = "client:test"
        envelope.moveEntity = .with { $0.entityID = 5; $0.to = .with { $0.x = 1; $0.y = 2 } }
        return WireFormat.encode(envelope)
    }()

    @Test func everyTruncationIsATypedError() {
        for length in 1..<Self.valid.count {
            let prefix = Array(Self.valid.prefix(length))
            #expect(throws: WireError.self, "prefix of \(length) bytes") { try WireFormat.decode(prefix) }
        }
    }

    @Test func truncationInsideTheBodyIsReportedAsTruncated() throws {
        let error = try #require(throws: WireError.self) { try WireFormat.decode(Array(Self.valid.dropLast(3))) }
        #expect(error.code == .truncated)
        #expect(error.description.contains("ends in the middle"))
    }

    @Test func emptyAndGarbageFramesAreNamed() throws {
        let empty = try #require(throws: WireError.self) { try WireFormat.decode([]) }
        #expect(empty.code == .badSize)
        let garbage = try #require(throws: WireError.self) { try WireFormat.decode([0xFF, 0xFF, 0xFF, 0xFF]) }
        #expect(garbage.code == .malformed || garbage.code == .truncated)
        let text = try #require(throws: WireError.self) { try WireFormat.decode(Array("GET / HTTP/1.1\r\n".utf8)) }
        #expect([.malformed, .truncated, .unsupportedVersion, .missingBody].contains(text.code))
    }

    @Test func randomBytesNeverCrashTheDecoder() {
        var generator = SplitMix64(seed: 2026)
        var rejected = 0
        for _ in 0..<5000 {
            let count = Int(generator.next() % 64) + 1
            let bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            do { _ = try WireFormat.decode(bytes) } catch { rejected += 1 }
        }
        #expect(rejected > 4900)  // random bytes are almost never a valid version-1 envelope with a body
    }

    @Test func anotherProtocolVersionIsRefusedByName() throws {
        var envelope = Envelope()
        envelope.protocolVersion = 2
        envelope.getEntity = .with { $0.entityID = 1 }
        let frame = try envelope.serializedBytes() as [UInt8]
        let error = try #require(throws: WireError.self) { try WireFormat.decode(frame) }
        #expect(error.code == .unsupportedVersion)
        #expect(error.replyCode == .unsupportedVersion)
        #expect(error.message.contains("version 2"))
    }

    @Test func errorRepliesToEnvelopesThatDecodedCarryTheirRequestID() throws {
        var other = Envelope()
        other.protocolVersion = 7
        other.requestID = 4242
        other.getEntity = .with { $0.entityID = 1 }
        var empty = Envelope()
        empty.requestID = 4343
        for (frame, id) in [(try other.serializedBytes() as [UInt8], UInt64(4242)), (WireFormat.encode(empty), 4343)] {
            let error = try #require(throws: WireError.self) { try WireFormat.decode(frame) }
            #expect(error.requestID == id)
            #expect(try WireFormat.decode(WireFormat.encode(Envelope.errorReply(for: error, sender: "w"))).requestID == id)
        }
        // Bytes that did not decode have no request id to carry.
        let garbage = try #require(throws: WireError.self) { try WireFormat.decode([0xFF, 0xFF, 0xFF, 0xFF]) }
        #expect(garbage.requestID == nil)
    }

    @Test func aSpawnMayNotSetTheServersFields() throws {
        let base = Cellcluster_V1_SpawnEntity.with {
            $0.entity = .with { $0.entityID = 8; $0.kind = .npc; $0.position = .with { $0.x = 1; $0.y = 1 } }
        }
        #expect(try base.newEntity().id.raw == 8)
        for (field, set) in [("owner_epoch", { (e: inout Cellcluster_V1_SpawnEntity) in e.entity.ownerEpoch = .max }),
                             ("version", { $0.entity.version = 1 }), ("actions", { $0.entity.actions = 3 })] {
            var spawn = base
            set(&spawn)
            let error = try #require(throws: WireError.self) { try spawn.newEntity() }
            #expect(error.message.contains(field), "\(error)")
        }
        #expect(throws: WireError.self) { try Cellcluster_V1_SpawnEntity().newEntity() }
    }

    @Test func aShardMapWithRangesAtTheEdgeOfUInt64IsRefusedNotTrapped() throws {
        let grid = try Grid(width: 256, height: 256, cellSize: 64)  // 4 x 4 cells: a curve of 16
        var map = Cellcluster_V1_ShardMap()
        map.columns = 4; map.rows = 4; map.cellSize = 64; map.curve = .hilbert; map.epoch = 2
        map.ranges = [.with { $0.first = 0; $0.last = .max; $0.workerID = "a" }, .with { $0.first = 0; $0.last = 15; $0.workerID = "b" }]
        #expect(throws: WireError.self) { try map.partitionMap(grid: grid) }
        map.ranges = [.with { $0.first = 9; $0.last = 3; $0.workerID = "a" }, .with { $0.first = 0; $0.last = 15; $0.workerID = "b" }]
        #expect(throws: WireError.self) { try map.partitionMap(grid: grid) }
        map.ranges = [.with { $0.first = 0; $0.last = 15; $0.workerID = "a" }]
        #expect(try map.partitionMap(grid: grid).epoch == 2)
        map.epoch = .max
        #expect(throws: WireError.self) { try map.partitionMap(grid: grid) }
    }

    @Test func anEnvelopeWithoutAMessageIsRefused() throws {
        var envelope = Envelope()
        envelope.requestID = 4
        let error = try #require(throws: WireError.self) { try WireFormat.decode(WireFormat.encode(envelope)) }
        #expect(error.code == .missingBody)
    }

    @Test func theErrorReplyNamesTheProblem() throws {
        let error = WireError(.truncated, "frame of 3 bytes ends in the middle of a field")
        let reply = Envelope.errorReply(for: error, sender: "worker:w1", mapEpoch: 6)
        let decoded = try WireFormat.decode(WireFormat.encode(reply))
        #expect(decoded.reply.code == .malformedFrame)
        #expect(decoded.reply.message.contains("ends in the middle"))
        #expect(decoded.reply.mapEpoch == 6)
    }
}

/// A small seeded generator so the garbage is the same on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
