import Checkpoint
import Client
import Foundation
import ProcessKit
import Synchronization
import Postgres
import Security
import Wire
import WorldCore
import ZeroMQ

/// Moves through the client library into a 2-worker cluster, next to a raw ZeroMQ round trip;
/// each twice in the same run: plain sockets, then CURVE (every socket encrypted and
/// authenticated, a ZAP handler in every server), with the ratios between the two.
public enum EndToEndBench {
    public static func run(_ parameters: ConnectionParameters, requests: Int, players: Int = 200) throws -> BenchReport {
        var report = BenchReport(benchmark: "e2e", parameters: ["requests": "\(requests)", "players": "\(players)", "workers": "2"])
        let keys = FileManager.default.temporaryDirectory.appendingPathComponent("cellcluster-bench-keys-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: keys) }
        for role in [Role.worker, .client, .operator] { try KeyFile.generate(name: role.rawValue, role: role).write(to: keys, replace: true) }
        var figures: [Figures] = []
        for folder in [nil, keys] {
            let mode = folder == nil ? "[plain]" : "[CURVE]"
            let ring = try folder.map { try KeyRing.load(folder: $0, presenting: "client") }
            let (rawRate, rawLatency) = try rawRoundTrip(count: requests, curve: ring?.curve)
            report.add("\(mode) raw ZeroMQ round trip (DEALER to ROUTER echo, loopback TCP), one in flight", rawRate, "round trips/s")
            report.add("\(mode) raw ZeroMQ round trip p50", rawLatency.p50, "µs")
            report.add("\(mode) raw ZeroMQ round trip p99", rawLatency.p99, "µs")
            var result = try withScratchDatabase(parameters, prefix: "cellcluster_e2e") { scratch in
                try cluster(scratch, requests: requests, players: players, rawP50: rawLatency.p50, keys: folder, mode: mode, report: &report)
            }
            result.rawRate = rawRate
            figures.append(result)
        }
        let (plain, curve) = (figures[0], figures[1])
        report.ratio("CURVE / plain: raw round trips/s", curve.rawRate / plain.rawRate)
        report.ratio("CURVE / plain: moves/s, one in flight", curve.sequentialRate / plain.sequentialRate)
        report.ratio("CURVE / plain: move p50", curve.moveP50 / plain.moveP50)
        report.ratio("CURVE / plain: moves/s, 64 in flight per worker", curve.pipelinedRate / plain.pipelinedRate)
        report.ratio("plain: moves/s batched 64 to a frame / 64 single moves in flight", plain.batchedRate / plain.pipelinedRate)
        report.ratio("CURVE / plain: moves/s batched 64 to a frame", curve.batchedRate / plain.batchedRate)
        report.ratio("CURVE / plain: handoffs/s", curve.handoffRate / plain.handoffRate)
        return report
    }

    /// A line on standard error as a phase begins, naming the workers' PIDs, so that a profiler can
    /// be pointed at one phase (BENCHMARKS.md, "Where a batched move's time goes").
    private static func phase(_ name: String, workers: [pid_t]) {
        FileHandle.standardError.write(Data("bench e2e: phase \(name) begins; workers \(workers.map(String.init).joined(separator: ","))\n".utf8))
    }

    /// The figures compared between plain and CURVE.
    struct Figures {
        var rawRate = 0.0, sequentialRate = 0.0, moveP50 = 0.0, pipelinedRate = 0.0, handoffRate = 0.0, batchedRate = 0.0
    }

    /// Moves in batches of `size`, `frames` batches in flight per worker, until `moves` are answered.
    /// - Parameter echo: the clients talk to `EchoServer`s, not workers: every reply frame
    ///   stands for `size` answers.
    /// - Returns: answered moves per second, the workers' and this client's CPU time per
    ///   answered move (µs), and the size of the last reply frame.
    private static func batched(_ clients: [(CellClient, [(EntityID, Position, CellID)])], size: Int, frames: Int, moves: Int, echo: Bool = false,
                                workersCPU: () -> Duration) throws -> (rate: Double, workers: Double, client: Double, refused: Int, replyBytes: Int) {
        let (before, clientBefore) = (workersCPU(), ProcessCPU.ofThisProcess())
        var outcome = InFlight.Outcome()
        var replyBytes = 0
        let time = try measure {
            outcome = try InFlight.drive(clients.map(\.0), window: frames, perFrame: size, requests: moves, send: { i, first in
                let (c, list) = clients[i]
                let moves: [MoveBatch.Move] = (0..<size).map { k in
                    let (id, p, cell) = list[(first + k) % list.count]
                    return .init(requestID: c.takeRequestID(), entityID: id.raw, cellID: cell.raw, x: p.x + Double((first + k) % 20) - 10, y: p.y, z: 0)
                }
                try c.sendMoves(moves, id: c.takeRequestID())
            }, check: { frame in
                replyBytes = frame.count
                if echo { return InFlight.Answer(ok: size, refused: 0) }
                // Plain answers read as values; a frame with a refusal's text, the general way.
                // (Texts only from the general way: none is made per plain answer.)
                let codes: [Cellcluster_V1_ErrorCode]
                var messages: [String] = []
                if let plain = WireFormat.decodeBatchAnswers(frame) {
                    guard plain.answers.count == size else { throw BenchFailure(message: "a batch of \(size) answered with \(plain.answers.count)") }
                    codes = plain.answers.map(\.code)
                } else {
                    guard let envelope = try? WireFormat.decode(frame), envelope.body != nil else { return nil }
                    let replies = try CellClient.replies(of: envelope, count: size)
                    (codes, messages) = (replies.map(\.code), replies.map(\.message))
                }
                if let bad = codes.firstIndex(where: { $0 != .ok && $0 != .overloaded }) {
                    throw BenchFailure(message: "batched move failed: \(bad < messages.count ? messages[bad] : "\(codes[bad])")")
                }
                let refused = codes.count(where: { $0 == .overloaded })
                return InFlight.Answer(ok: size - refused, refused: refused)
            })
        }
        let (after, clientAfter) = (workersCPU(), ProcessCPU.ofThisProcess())
        let answered = Double(max(1, outcome.answered))
        return (Double(outcome.answered) / time.seconds, Double((after - before).wholeMicroseconds) / answered,
                Double((clientAfter - clientBefore).wholeMicroseconds) / answered, outcome.refused, replyBytes)
    }

    /// The transport's share of a batched phase: the same frames, `frames` in flight, to one
    /// `EchoServer` process per worker, each answering with a reply of `replyBytes` (the
    /// workers' reply size in that phase).
    /// - Returns: the echo processes' CPU time per move (µs).
    private static func transportFloor(_ clients: [(CellClient, [(EntityID, Position, CellID)])], size: Int, frames: Int, moves: Int,
                                       replyBytes: Int) throws -> Double {
        var echoes: [ChildProcess] = []
        defer { for echo in echoes { _ = echo.stop(SIGTERM, timeout: .seconds(5)) } }
        var echoClients: [(CellClient, [(EntityID, Position, CellID)])] = []
        let context = try Context()
        for (_, list) in clients {
            let echo = try ChildProcess(["bench-echo", "--bind", "tcp://127.0.0.1:0", "--reply-bytes", String(replyBytes)])
            echoes.append(echo)
            echoClients.append((try CellClient(context: context, endpoint: try echo.waitReady(timeout: .seconds(30))), list))
        }
        let pids = echoes.map(\.pid)
        return try batched(echoClients, size: size, frames: frames, moves: moves, echo: true) {
            pids.compactMap { ProcessCPU.of(pid: $0) }.reduce(.zero, +)
        }.workers
    }

    private static func cluster(_ parameters: ConnectionParameters, requests: Int, players: Int, rawP50: Double, keys: String?,
                                mode: String, report: inout BenchReport) throws -> Figures {
        var figures = Figures()
        var env = ["PGDATABASE": parameters.database ?? ""]
        if let host = parameters.host { env["PGHOST"] = host }
        if let port = parameters.port { env["PGPORT"] = String(port) }
        if let user = parameters.user { env["PGUSER"] = user }
        // No cells move for load: each client sends a fixed set of entities to the worker that
        // owns their cells, and a cell moved mid-run answers WRONG_WORKER (a batched phase of
        // a million moves ran into one and stopped).
        let settings = ["rebalance.threshold=1000000000"] + (keys.map { ["security.keys=\($0)"] } ?? [])
        let cluster = try ProcessCluster.forBenchmark(workers: 2, environment: env, settings: settings)
        defer { cluster.stopAll(timeout: .seconds(30)) }

        let grid = try Grid(width: 4096, height: 4096, cellSize: 64)
        let context = try KeyRing.context(keysFolder: keys, presenting: Role.client.rawValue, serving: false)
        let client = try ClusterClient(context: context, coordinator: cluster.coordinatorEndpoint, grid: grid)
        try client.refreshMap()
        let partition = try client.map!.partitionMap(grid: grid)
        // Players spread over the world; each stays inside its cell so no move crosses a shard.
        var random = SeededRandom(seed: 5)
        var homes: [(EntityID, Position, CellID)] = []
        for i in 0..<players {
            let c = CellID(Int64(random.next() % UInt64(grid.cellCount)))
            let coord = grid.coord(of: c)
            let p = Position(x: Double(coord.column) * 64 + 32, y: Double(coord.row) * 64 + 32)
            let id = EntityID(UInt64(i + 1))
            guard try client.spawn(Entity(id: id, kind: .player, position: p, cell: c)).code == .ok else {
                throw BenchFailure(message: "spawn of player \(i + 1) failed")
            }
            homes.append((id, p, c))
        }
        let perWorker = Dictionary(grouping: homes) { partition.owner(of: $0.2) }

        // One request in flight: latency.
        var latencies: [Double] = []
        latencies.reserveCapacity(requests)
        let sequential = try measure {
            for r in 0..<requests {
                let (id, p, c) = homes[r % homes.count]
                let start = ContinuousClock.now
                let reply = try client.move(id, to: Position(x: p.x + Double(r % 20) - 10, y: p.y), from: c)
                latencies.append((ContinuousClock.now - start).microseconds)
                if reply.code != .ok { throw BenchFailure(message: "move failed: \(reply.message)") }
            }
        }
        let lat = Percentiles(latencies)
        report.add("\(mode) moves through the client library, one in flight", Double(requests) / sequential.seconds, "moves/s")
        report.add("\(mode) move latency p50", lat.p50, "µs")
        report.add("\(mode) move latency p99", lat.p99, "µs")
        report.ratio("\(mode) move p50 / raw ZeroMQ round trip p50", lat.p50 / rawP50)
        figures.sequentialRate = Double(requests) / sequential.seconds
        figures.moveP50 = lat.p50

        // Many in flight: throughput, 64 outstanding per worker.
        var clients: [(CellClient, [(EntityID, Position, CellID)])] = []
        for (worker, list) in perWorker {
            clients.append((try CellClient(context: context, endpoint: client.map!.endpoints[worker]!), list))
        }
        let window = 64
        // CPU time (user + system) of the two workers and of this client process over the phase.
        let workerPIDs = cluster.liveWorkers.compactMap { cluster.worker($0)?.pid }
        func workersCPU() -> Duration { workerPIDs.compactMap { ProcessCPU.of(pid: $0) }.reduce(.zero, +) }
        phase("\(mode) \(window) in flight per worker", workers: workerPIDs)
        let (workersBefore, clientBefore) = (workersCPU(), ProcessCPU.ofThisProcess())
        var outcome = InFlight.Outcome()
        let pipelined = try measure {
            outcome = try InFlight.drive(clients.map(\.0), window: window, perFrame: 1, requests: requests, send: { i, first in
                let (c, list) = clients[i]
                let (id, p, cell) = list[first % list.count]
                _ = try c.send(.moveEntity(.with { $0.entityID = id.raw; $0.to = .init(Position(x: p.x + Double(first % 20) - 10, y: p.y)); $0.cellID = cell.raw }))
            }, check: { frame in
                guard let envelope = try? WireFormat.decode(frame), envelope.body != nil else { return nil }
                guard case .reply(let r)? = envelope.body, r.code != .ok else { return InFlight.Answer(ok: 1, refused: 0) }
                if r.code == .overloaded { return InFlight.Answer(ok: 0, refused: 1) }
                throw BenchFailure(message: "move failed: \(r.message)")
            })
        }
        let received = outcome.answered
        report.add("\(mode) moves through the client library, \(window) in flight per worker", Double(received) / pipelined.seconds, "moves/s")
        report.add("\(mode) moves refused OVERLOADED (past a worker's loss window) and sent again, \(window) in flight per worker", Double(outcome.refused), "moves")
        if received > 0 {
            let (workersAfter, clientAfter) = (workersCPU(), ProcessCPU.ofThisProcess())
            report.add("\(mode) workers' CPU per answered move, \(window) in flight per worker (user + system, both workers)",
                       Double((workersAfter - workersBefore).wholeMicroseconds) / Double(received), "µs")
            report.add("\(mode) client's CPU per answered move, \(window) in flight per worker",
                       Double((clientAfter - clientBefore).wholeMicroseconds) / Double(received), "µs")
        }
        figures.pipelinedRate = Double(received) / pipelined.seconds

        // Batched: the same moves, `size` to a frame, `frames` frames in flight per worker. 64 in
        // flight per worker go as one frame, or as two (the worker serves one while the client
        // reads the other's answers).
        for (size, frames) in [(64, 1), (32, 2), (256, 4)] {
            phase("\(mode) batched \(size) × \(frames)", workers: workerPIDs)
            let (rate, cpu, clientCPU, refused, replyBytes) = try batched(clients, size: size, frames: frames, moves: requests * 4, workersCPU: workersCPU)
            report.add("\(mode) moves through the client library, batched \(size) to a frame, \(frames) frame(s) in flight per worker", rate, "moves/s")
            report.add("\(mode) moves refused OVERLOADED and sent again, batched \(size) × \(frames)", Double(refused), "moves")
            report.add("\(mode) workers' CPU per answered move, batched \(size) × \(frames) (user + system, both workers)", cpu, "µs")
            report.add("\(mode) client's CPU per answered move, batched \(size) × \(frames)", clientCPU, "µs")
            if keys == nil {  // plain sockets only: the echo has no CURVE keys
                let floor = try transportFloor(clients, size: size, frames: frames, moves: requests * 4, replyBytes: replyBytes)
                report.add("\(mode) transport floor: echo processes' CPU per move, batched \(size) × \(frames) (the same frames; replies of \(replyBytes) bytes)", floor, "µs")
                report.ratio("\(mode) workers' CPU per move / the transport floor, batched \(size) × \(frames)", cpu / max(floor, 0.001))
            }
            if size == 64 { figures.batchedRate = rate }
        }
        // Cross-shard handoffs: one player walking back and forth over the border, one move in flight.
        var border: (CellID, CellID)?
        for c in 0..<Int64(grid.cellCount) where border == nil {
            let a = CellID(c)
            let coord = grid.coord(of: a)
            if let b = grid.cell(column: coord.column + 1, row: coord.row), partition.owner(of: a) != partition.owner(of: b) { border = (a, b) }
        }
        let (a, b) = border!
        let walker = EntityID(9_999_999)
        let pa = Position(x: Double(grid.coord(of: a).column) * 64 + 32, y: Double(grid.coord(of: a).row) * 64 + 32)
        let pb = Position(x: Double(grid.coord(of: b).column) * 64 + 32, y: Double(grid.coord(of: b).row) * 64 + 32)
        guard try client.spawn(Entity(id: walker, kind: .player, position: pa, cell: a)).code == .ok else {
            throw BenchFailure(message: "spawn of the walker failed")
        }
        let handoffs = min(requests / 10, 2_000)
        var handoffLatencies: [Double] = []
        let handoffTime = try measure {
            for i in 0..<handoffs {
                let start = ContinuousClock.now
                let reply = try client.move(walker, to: i % 2 == 0 ? pb : pa)
                handoffLatencies.append((ContinuousClock.now - start).microseconds)
                if reply.code != .ok { throw BenchFailure(message: "handoff move failed: \(reply.message)") }
            }
        }
        let hl = Percentiles(handoffLatencies)
        report.add("\(mode) cross-shard handoffs (a move into the other worker's cell), one in flight", Double(handoffs) / handoffTime.seconds, "handoffs/s")
        report.add("\(mode) handoff move latency p50", hl.p50, "µs")
        report.add("\(mode) handoff move latency p99", hl.p99, "µs")
        figures.handoffRate = Double(handoffs) / handoffTime.seconds
        return figures
    }

    /// Sequential round trips of a 64-byte frame to an echoing ROUTER on a thread of its own.
    static func rawRoundTrip(count: Int, curve: CurveSetup? = nil) throws -> (Double, Percentiles) {
        // With CURVE: the echo serves with the client's own key pair and lets that key in.
        let context = try Context(curve: curve.map { CurveSetup(own: $0.own, serverKey: $0.own.publicKey) })
        if let own = curve?.own.publicKey { try context.authenticate { $0 == own ? "client/bench" : nil } }
        let echo = try Socket(context, .router)
        let endpoint = try echo.bind("tcp://127.0.0.1:0")
        let box = SocketBox(echo)
        let thread = Thread {
            var poller = Poller()
            poller.add(box.socket)
            while !box.stop.load(ordering: .relaxed) {
                guard (try? poller.poll(timeoutMilliseconds: 50))?.isEmpty == false else { continue }
                while let frames = try? box.socket.receive(dontWait: true) { _ = try? box.socket.send(frames) }
            }
            box.socket.close()
        }
        thread.start()
        defer { box.stop.store(true, ordering: .relaxed) }
        let client = try Socket(context, .dealer)
        try client.connect(endpoint)
        try client.setReceiveTimeout(milliseconds: 5000)
        let payload = [UInt8](repeating: 7, count: 64)
        var latencies: [Double] = []
        latencies.reserveCapacity(count)
        let total = try measure {
            for _ in 0..<count {
                let start = ContinuousClock.now
                try client.send([payload])
                guard try client.receive() != nil else { throw BenchFailure(message: "echo timed out") }
                latencies.append((ContinuousClock.now - start).microseconds)
            }
        }
        client.close()
        return (Double(count) / total.seconds, Percentiles(latencies))
    }
}

/// Hands a socket to the one thread that uses it from then on.
final class SocketBox: @unchecked Sendable {
    let socket: Socket
    let stop = Atomic<Bool>(false)
    init(_ socket: Socket) { self.socket = socket }
}

struct Percentiles {
    let p50: Double
    let p99: Double
    init(_ values: [Double]) {
        let sorted = values.sorted()
        p50 = sorted.isEmpty ? 0 : sorted[sorted.count / 2]
        p99 = sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))]
    }
}

extension Duration {
    var microseconds: Double { seconds * 1e6 }
}
