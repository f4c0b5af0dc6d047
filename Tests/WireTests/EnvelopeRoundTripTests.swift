import Foundation
import SwiftProtobuf
import Testing
@testable import Wire

@Suite struct EnvelopeRoundTripTests {
    /// One populated sample per message an envelope can carry, keyed by the field number.
    static let samples: [Int: Envelope.OneOf_Body] = {
        var entity = Cellcluster_V1_EntityState()
        entity.entityID = 42
        entity.kind = .player
        entity.stats = ["hp": 97.5, "gold": 12]
        entity.position = .with { $0.x = 10.5; $0.y = -0; $0.z = 3 }
        entity.version = 9
        entity.cellID = 1234
        entity.ownerEpoch = 3
        let move = Cellcluster_V1_MoveEntity.with { $0.entityID = 42; $0.to = entity.position }
        let action = Cellcluster_V1_EntityAction.with { $0.entityID = 42; $0.action = "trade"; $0.statDeltas = ["gold": -5] }
        let cellChange = Cellcluster_V1_CellStateChange.with { $0.cellID = 7; $0.set = ["weather": "rain"]; $0.remove = ["fog"] }
        let world = Cellcluster_V1_WorldEvent.with { $0.cellID = 7; $0.name = "meteor"; $0.payload = Data([1, 2, 3]) }
        let map = Cellcluster_V1_ShardMap.with {
            $0.epoch = 5; $0.columns = 64; $0.rows = 64; $0.cellSize = 64; $0.curve = .hilbert
            $0.workers = [.with { $0.workerID = "w1"; $0.endpoint = "tcp://127.0.0.1:5000" }]
            $0.ranges = [.with { $0.first = 0; $0.last = 2047; $0.workerID = "w1" }]
        }
        let monitor = Cellcluster_V1_MonitorSnapshot.with {
            $0.dbIo = 10; $0.cacheHits = 90; $0.cacheMisses = 10; $0.oldestUnsavedAgeMs = 800; $0.checkpointP99Ms = 4.5
        }
        let event = Cellcluster_V1_Event.with { $0.sequence = 3; $0.type = .entityAction; $0.entityAction = action }
        return [
            10: .spawnEntity(.with { $0.entity = entity }),
            11: .moveEntity(move),
            12: .entityAction(action),
            13: .cellStateChange(cellChange),
            14: .worldEvent(world),
            15: .getEntity(.with { $0.entityID = 42 }),
            16: .getCell(.with { $0.cellID = 7 }),
            17: .batch(.with { $0.requests = [.with { $0.requestID = 1; $0.moveEntity = move }, .with { $0.requestID = 2; $0.entityAction = action }] }),
            21: .batchReply(.with { $0.replies = [.with { $0.requestID = 1; $0.reply = .with { $0.code = .ok; $0.version = 3 } }] }),
            20: .reply(.with {
                $0.code = .wrongWorker; $0.message = "cell 7 belongs to w2"; $0.mapEpoch = 5
                $0.redirectWorker = "w2"; $0.redirectEndpoint = "tcp://127.0.0.1:5001"
                $0.cell = .with { $0.cellID = 7; $0.entities = [entity]; $0.state = ["weather": "rain"]; $0.pendingEvents = 2 }
            }),
            30: .getShardMap(.with { $0.knownEpoch = 4 }),
            31: .shardMap(map),
            40: .registerWorker(.with { $0.workerID = "w1"; $0.endpoint = "tcp://127.0.0.1:5000" }),
            41: .heartbeat(.with {
                $0.workerID = "w1"; $0.mapEpoch = 8; $0.monitor = monitor
                $0.loads = [.with { $0.cellID = 7; $0.entities = 3; $0.eventsPerSecond = 12.5 }]
            }),
            42: .leaseGrant(.with { $0.workerID = "w1"; $0.leaseGeneration = 8; $0.leaseMs = 3000 }),
            50: .handoffOffer(.with {
                $0.handoffID = 77; $0.sourceWorker = "w1"; $0.entity = entity; $0.pendingEvents = [event]; $0.sourceEpoch = 3
            }),
            51: .handoffAccept(.with { $0.handoffID = 77; $0.entityID = 42; $0.newOwnerEpoch = 4 }),
            52: .handoffCommitted(.with { $0.handoffID = 77; $0.entityID = 42 }),
            53: .handoffAbort(.with { $0.handoffID = 77; $0.entityID = 42; $0.code = .staleEpoch; $0.reason = "epoch 3 < 4" }),
            54: .activateCells(.with { $0.cellIds = [1, 2, 3]; $0.release = true }),
            60: .statusRequest(.init()),
            61: .statusReply(.with {
                $0.map = map
                $0.workers = [.with { $0.workerID = "w1"; $0.ownedCells = 2048; $0.activeCells = 25; $0.entities = 10; $0.monitor = monitor }]
            }),
            62: .scaleRequest(.with { $0.workers = 4 }),
            63: .drainRequest(.with { $0.workerID = "w2" }),
            64: .auditRequest(.init()),
            65: .auditReply(.with {
                $0.workerID = "w1"
                $0.mapEpoch = 7
                $0.serving = true
                $0.entities = [.with { $0.entityID = 3; $0.cellID = 12; $0.version = 4 }]
                $0.givingAway = [12, 13]
                $0.oldestUnsavedAgeMs = 250
            }),
        ]
    }()

    /// The field numbers of `oneof body` as the schema declares them.
    static func schemaBodyFields() throws -> Set<Int> {
        let proto = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/Wire/Proto/cellcluster.proto")
        let text = try String(contentsOf: proto, encoding: .utf8)
        let body = try #require(text.range(of: "oneof body {")).upperBound
        let end = try #require(text[body...].range(of: "}")).lowerBound
        var numbers = Set<Int>()
        for line in text[body..<end].split(separator: "\n") {
            let code = line.split(separator: "//").first ?? ""
            if let eq = code.firstIndex(of: "="), let n = Int(code[code.index(after: eq)...].filter(\.isNumber)) {
                numbers.insert(n)
            }
        }
        return numbers
    }

    @Test func everyMessageInTheSchemaHasASample() throws {
        #expect(Set(Self.samples.keys) == (try Self.schemaBodyFields()))
    }

    @Test(arguments: samples.keys.sorted())
    func everyMessageRoundTrips(field: Int) throws {
        var envelope = Envelope()
        envelope.requestID = UInt64(field) * 1_000_003
        envelope.sender = "client:test"
        envelope.body = Self.samples[field]
        let frame = WireFormat.encode(envelope)
        let decoded = try WireFormat.decode(frame)
        #expect(decoded.protocolVersion == WireFormat.protocolVersion)
        envelope.protocolVersion = WireFormat.protocolVersion
        #expect(decoded == envelope)
    }
}
