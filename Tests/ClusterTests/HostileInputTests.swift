import Foundation
import Testing
import ProcessKit
import TestSupport
@testable import Client
@testable import Postgres
@testable import Wire
@testable import WorldCore
@testable import ZeroMQ

/// What the protocol allows, not what our client sends: server fields on a spawn, counters with
/// no successor, oversized fields and frames, impossible stored rows. Every one is refused by
/// name (or dropped, for frames over the limit), and the processes keep serving.
@Suite struct HostileInputTests {
    static let grid = WorkerProcessTests.grid

    /// Resident memory of a process, in bytes.
    static func residentBytes(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kb = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { throw WorkerProcessError(message: "no VmRSS for \(pid)") }
        return kb * 1024
    }

    static func spawn(_ id: UInt64, at position: Position, _ set: (inout Cellcluster_V1_EntityState) -> Void = { _ in }) -> Envelope.OneOf_Body {
        .spawnEntity(.with {
            $0.entity = .with {
                $0.entityID = id
                $0.kind = .npc
                $0.position = .init(position)
                set(&$0)
            }
        })
    }

    @Test func aWorkerRefusesServerFieldsAndOversizedFieldsByNameAndDropsOversizedFrames() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let worker = try WorkerProcess(database: parameters.database!)
            defer { worker.process.killHard() }
            let context = try Context()
            let client = try CellClient(context: context, endpoint: worker.endpoint)
            let here = Position(x: 100, y: 100)

            // The server's fields: refused, the entity not created, so nothing can trap later.
            let epoch = try client.call(Self.spawn(5, at: here) { $0.ownerEpoch = .max })
            #expect(epoch.code == .invalidArgument)
            #expect(epoch.message.contains("owner_epoch = 18446744073709551615"), "\(epoch.message)")
            let version = try client.call(Self.spawn(5, at: here) { $0.version = UInt64(bitPattern: -2) ; $0.actions = 1 })
            #expect(version.code == .invalidArgument && version.message.contains("version") && version.message.contains("actions"))
            #expect(try client.call(.getEntity(.with { $0.entityID = 5 })).code == .unknownEntity)

            // Sizes a client controls: each limit is named.
            let stats = Dictionary(uniqueKeysWithValues: (0..<1000).map { ("s\($0)", 1.0) })
            let tooMany = try client.call(Self.spawn(6, at: here) { $0.stats = stats })
            #expect(tooMany.code == .invalidArgument && tooMany.message.contains("limits.max_stats_per_entity"), "\(tooMany.message)")
            let longName = try client.call(Self.spawn(6, at: here) { $0.stats = [String(repeating: "k", count: 300): 1] })
            #expect(longName.code == .invalidArgument && longName.message.contains("limits.max_key_bytes"))
            let cell = try Self.grid.cell(at: here)
            let payload = try client.call(.worldEvent(.with { $0.cellID = cell.raw; $0.name = "quake"; $0.payload = Data(count: 70_000) }))
            #expect(payload.code == .invalidArgument && payload.message.contains("limits.max_event_payload_bytes"))
            let value = try client.call(.cellStateChange(.with { $0.cellID = cell.raw; $0.set = ["banner": String(repeating: "x", count: 5000)] }))
            #expect(value.code == .invalidArgument && value.message.contains("limits.max_value_bytes"))
            let longSender = try CellClient(context: context, endpoint: worker.endpoint, name: String(repeating: "s", count: 5000))
            let named = try longSender.call(.getEntity(.with { $0.entityID = 6 }))
            #expect(named.code == .invalidArgument && named.message.contains("sender") && named.message.contains("limits.max_key_bytes"), "\(named.message)")
            try client.spawn(Entity(id: EntityID(6), kind: .npc, position: here, cell: cell))

            // Frames over limits.max_frame_bytes are dropped by ZeroMQ before they are buffered:
            // a 300 MiB frame grows the worker by no more than a few MB, and it keeps serving.
            let before = try Self.residentBytes(worker.process.pid)
            let raw = try Socket(context, .dealer)
            try raw.connect(worker.endpoint)
            var big = Envelope()
            big.requestID = 1
            big.sender = "client:hostile"
            big.worldEvent = .with { $0.cellID = cell.raw; $0.name = "flood"; $0.payload = Data(count: 300 * 1024 * 1024) }
            try raw.send([WireFormat.encode(big)])
            big.worldEvent.payload = Data(count: 10 * 1024 * 1024)
            try raw.send([WireFormat.encode(big)])
            var peak = before
            for _ in 0..<30 {  // while the frames are on their way
                peak = max(peak, try Self.residentBytes(worker.process.pid))
                Thread.sleep(forTimeInterval: 0.05)
            }
            try raw.setReceiveTimeout(milliseconds: 500)
            #expect(try raw.receive() == nil)  // no answer: the frames never reached the worker's code
            #expect(peak - before < 8 * 1024 * 1024, "resident memory grew from \(before) to \(peak) bytes")
            #expect(worker.process.isRunning)
            #expect(try client.move(EntityID(6), to: Position(x: 110, y: 100)).code == .ok)
        }
    }

    @Test func anImpossibleStoredRowIsNamedAndTheWorkerKeepsServing() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let worker = try WorkerProcess(database: parameters.database!)
            defer { worker.process.killHard() }
            let client = try CellClient(context: try Context(), endpoint: worker.endpoint)
            let far = try Self.grid.cell(at: Position(x: 4000, y: 4000))
            // A row no worker wrote: negative owner epoch and version (as another tool might leave).
            try Connection(parameters).query("""
                INSERT INTO entity_states (entity_id, cell_id, kind, position, version, actions, owner_epoch)
                VALUES (77, $1, 2, '{"x": 4000, "y": 4000, "z": 0}', -2, 0, -1)
                """, [.int64(far.raw)])
            let read = try client.call(.getEntity(.with { $0.entityID = 77 }), timeout: .seconds(10), attempts: 1)
            #expect(read.code == .internal && read.message.contains("version -2 of entity 77 is negative"), "\(read)")
            let named = HandoffTests.eventually(timeout: .seconds(10)) {
                worker.process.stderr.contains("version -2 of entity 77 is negative")
            }
            #expect(named, "\(worker.process.stderr.suffix(2000))")
            try client.spawn(WorkerProcessTests.player(1, x: 100, y: 100))
            #expect(try client.move(EntityID(1), to: Position(x: 120, y: 100)).code == .ok)
            #expect(worker.process.isRunning)
        }
    }

    @Test func extremeEpochsVersionsAndCountersAcrossABorderLeaveBothWorkersUp() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let cluster = try ProcessCluster(database: parameters.database!, workers: 2, settings: ["checkpoint.interval_ms=200"])
            defer { cluster.killAll() }
            let context = try Context()
            let client = try ClusterClient(context: context, coordinator: cluster.coordinatorEndpoint, grid: Self.grid)
            try client.refreshMap()
            let map = try #require(client.map)
            let (a, b) = try HandoffTests.border(map)
            let extremes: [UInt64] = [0, 1, UInt64(Int64.max) - 1, UInt64(Int64.max), UInt64(Int64.max) + 1, .max - 1, .max]
            var generator = SystemRandomNumberGenerator()
            var ok = 0
            // Spawns carrying any server field, then moves back and forth across the border.
            for (i, value) in extremes.enumerated() {
                for field in 0..<3 {
                    let id = UInt64(1000 + i * 3 + field)
                    let body = Self.spawn(id, at: HandoffTests.center(a)) {
                        switch field {
                        case 0: $0.ownerEpoch = value
                        case 1: $0.version = value
                        default: $0.actions = value
                        }
                    }
                    let reply = try client.call(body, cell: a)
                    #expect(reply.code == (value == 0 ? .ok : .invalidArgument), "spawn \(id) with field \(field) = \(value): \(reply.message)")
                    if reply.code == .ok { ok += 1 }
                    for step in 0..<4 {
                        let to = HandoffTests.center(step % 2 == 0 ? b : a)
                        _ = try client.move(EntityID(id), to: to, from: step % 2 == 0 ? a : b)
                    }
                }
            }
            #expect(ok == 3)
            // A hostile peer: offers straight to each worker, with epochs and counters at the edges.
            for (worker, cell) in [("w1", a), ("w2", b)] {
                let peer = try CellClient(context: context, endpoint: try #require(map.endpoints[worker]), name: "worker:hostile")
                for _ in 0..<40 {
                    let epoch = extremes.randomElement(using: &generator)!
                    _ = try peer.send(.handoffOffer(.with {
                        $0.handoffID = UInt64.random(in: 0...UInt64.max, using: &generator)
                        $0.sourceWorker = ["w1", "w2", "nobody", ""].randomElement(using: &generator)!
                        $0.sourceEpoch = epoch
                        $0.sourceLease = Int64.random(in: Int64.min...Int64.max, using: &generator)
                        $0.entity = .with {
                            $0.entityID = [UInt64(1000), 5000, .max].randomElement(using: &generator)!
                            $0.kind = .npc
                            $0.position = .init(HandoffTests.center(cell))
                            $0.version = extremes.randomElement(using: &generator)!
                            $0.actions = extremes.randomElement(using: &generator)!
                            $0.ownerEpoch = extremes.randomElement(using: &generator)!
                        }
                    }))
                }
                // Answers (refusals, mostly) come back as handoff replies; none is required.
                while try peer.receive(until: .now + .milliseconds(500)) != nil {}
            }
            // Both workers are up and serve; the legitimate entities are each held exactly once.
            for worker in ["w1", "w2"] { #expect(cluster.worker(worker)?.isRunning == true, "\(worker) died") }
            let statuses = try client.workerStatuses()
            #expect(statuses.count == 2)
            let player = Entity(id: EntityID(1), kind: .player, position: HandoffTests.center(a), cell: a)
            #expect(try client.spawn(player).code == .ok)
            #expect(try client.move(EntityID(1), to: HandoffTests.center(b)).code == .ok)
            #expect(try client.move(EntityID(1), to: HandoffTests.center(a)).code == .ok)
            let logs = ["w1", "w2"].compactMap { cluster.worker($0)?.stderr }.joined()
            #expect(!logs.contains("Fatal error") && !logs.contains("overflow"))
        }
    }
}
