import Foundation
import Wire

/// The committed seed corpus: every message of the protocol, well formed, as our own client and
/// workers send them, from which libFuzzer mutates (Fuzz/corpus/<target>/).
public enum SeedCorpus {
    /// One envelope of each kind, with plausible fields.
    public static var envelopes: [Envelope] {
        let entity = Cellcluster_V1_EntityState.with {
            $0.entityID = 7
            $0.kind = .player
            $0.position = .with { $0.x = 100; $0.y = 100 }
            $0.stats = ["hp": 100]
            $0.cellID = 9
        }
        let bodies: [Envelope.OneOf_Body] = [
            .spawnEntity(.with { $0.entity = entity }),
            .spawnEntity(.with { $0.entity = entity; $0.entity.entityID = 8; $0.entity.kind = .npc; $0.entity.position.x = 300 }),
            .moveEntity(.with { $0.entityID = 7; $0.to = .with { $0.x = 130; $0.y = 100 }; $0.cellID = 9 }),
            .moveEntity(.with { $0.entityID = 7; $0.to = .with { $0.x = 270; $0.y = 100 }; $0.cellID = 9 }),  // across to the peer
            .entityAction(.with { $0.entityID = 7; $0.action = "trade"; $0.statDeltas = ["gold": 5]; $0.cellID = 9 }),
            .cellStateChange(.with { $0.cellID = 9; $0.set = ["weather": "rain"]; $0.remove = ["fog"] }),
            .worldEvent(.with { $0.cellID = 9; $0.name = "storm"; $0.payload = Data([1, 2, 3]) }),
            .getEntity(.with { $0.entityID = 7 }),
            .getCell(.with { $0.cellID = 9 }),
            .getShardMap(.with { $0.knownEpoch = 0 }),
            .registerWorker(.with { $0.workerID = "w1"; $0.endpoint = "tcp://127.0.0.1:5000" }),
            .heartbeat(.with { $0.workerID = "w1"; $0.mapEpoch = 3; $0.loads = [.with { $0.cellID = 9; $0.entities = 2 }] }),
            .handoffOffer(.with {
                $0.handoffID = 11
                $0.sourceWorker = "w2"
                $0.entity = entity
                $0.entity.entityID = 21
                $0.entity.ownerEpoch = 4
                $0.entity.version = 9
                $0.sourceEpoch = 4
                $0.sourceLease = 2
            }),
            .handoffAccept(.with { $0.handoffID = 1; $0.entityID = 7; $0.newOwnerEpoch = 2 }),
            .handoffAbort(.with { $0.handoffID = 1; $0.entityID = 7; $0.code = .staleEpoch; $0.reason = "stale" }),
            .handoffCommitted(.with { $0.handoffID = 1; $0.entityID = 7 }),
            .activateCells(.with { $0.cellIds = [10, 11, 18] }),
            .statusRequest(.init()),
            .scaleRequest(.with { $0.workers = 3 }),
            .drainRequest(.with { $0.workerID = "w2" }),
            .auditRequest(.init()),
            .shardMap(.with {
                $0.epoch = 2; $0.columns = 64; $0.rows = 64; $0.cellSize = 64; $0.curve = .hilbert
                $0.workers = [.with { $0.workerID = "w1"; $0.endpoint = "tcp://127.0.0.1:5000" }]
                $0.ranges = [.with { $0.first = 0; $0.last = 4095; $0.workerID = "w1" }]
            }),
            .reply(.with { $0.code = .ok; $0.version = 3; $0.entity = entity }),
        ]
        return bodies.enumerated().map { index, body in
            Envelope.with {
                $0.protocolVersion = WireFormat.protocolVersion
                $0.requestID = UInt64(index + 1)
                $0.sender = "client:seed"
                $0.body = body
            }
        }
    }

    /// Files for the wire decoder: one envelope each, and a batch of moves and reads and a batch
    /// reply of plain answers as clients and workers write them by hand.
    public static var wire: [[UInt8]] {
        var answers: [UInt8] = []
        var starts: [Int32] = [], counts: [Int32] = []
        for i in 0..<3 {
            starts.append(Int32(answers.count))
            WireFormat.appendReply(requestID: UInt64(i + 1), sender: "worker:w1", ChangeAnswer(version: UInt64(i), deferred: i == 2), to: &answers)
            counts.append(Int32(answers.count) - starts[i])
        }
        var placeholder: [UInt8] = []
        WireFormat.appendPlaceholder(requestID: 9, sender: "worker:w1", to: &placeholder)
        return envelopes.map(WireFormat.encode) + [
            WireFormat.encodeMoveBatch(requestID: 7, sender: "client:seed", moves: [
                .init(requestID: 1, entityID: 1, cellID: 0, x: 10, y: 20, z: 0), .read(requestID: 2, entityID: 1),
                .init(requestID: 3, entityID: 2, cellID: -1, x: -0.0, y: .nan, z: 1),
            ]),
            WireFormat.encodeBatchReply(requestID: 7, sender: "worker:w1", replies: answers, starts: starts, counts: counts),
            // Batch.early_reply: a batch that asks for it, and an early reply with a placeholder.
            WireFormat.encodeMoveBatch(requestID: 8, sender: "client:seed", moves: [.init(requestID: 4, entityID: 3, cellID: 5, x: 1, y: 2, z: 0)],
                                       earlyReply: true),
            WireFormat.encodeBatchReply(requestID: 8, sender: "worker:w1", replies: answers + placeholder,
                                        starts: starts + [Int32(answers.count)], counts: counts + [Int32(placeholder.count)]),
        ]
    }

    /// Files for the worker core: a spawn then each message, from each role; and one whole session.
    public static var worker: [[UInt8]] {
        let frames = wire
        var files: [[UInt8]] = []
        for role in UInt8(0)..<4 {
            for frame in frames.dropFirst() { files.append(FuzzInput.encode([(role, frames[0]), (role, frame)])) }
        }
        files.append(FuzzInput.encode(frames.map { (UInt8(0), $0) } + frames.map { (UInt8(1), $0) }))
        return files
    }
}
