import ArgumentParser
import Cluster
import Config
import Foundation
import ProcessKit
import Soak
import WorldCore

struct SoakCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "Soak-test handoffs under faults: start a cluster, drive seeded players, inject faults, audit, report.",
        discussion: """
            Starts its own coordinator and workers (this executable) on the PostgreSQL of the
            settings (PGHOST and friends), which must be migrated. `scripts/cluster soak` does all
            of that with a private server. Exit status 0 only with a clean audit.

            Faults (--faults, comma-separated): kill (SIGKILL a worker, restart it), stop (SIGSTOP
            past the lease, then SIGCONT), scale (add a worker, then drain the newest), coordinator
            (SIGKILL and restart), pg-restart (needs --pg-dir and --pg-script), netcut (cut a worker's
            host off the LAN past its lease, then restore it; needs --hosts). The schedule comes
            from --seed: the same seed gives the same players, walks and faults.
            """
    )

    @Option(help: "How long the load runs, e.g. 60s, 10m.") var duration: String = "60s"
    @Option(help: "Simulated players.") var players: Int = 1000
    @Option(help: "Simulated NPCs (they move too, and do not keep cells active).") var npcs: Int?
    @Option(help: "Requests per entity per second.") var rate: Double = 10
    @Option(help: "Share of requests that are actions (the rest are moves and reads).") var actions: Double = 0.1
    @Option(help: ArgumentHelp("When the cluster answers an action: durable (after its commit; the audit finds each acknowledged one stored, through crashes) or checkpointed (from memory, saved by the next checkpoint: the cluster's default; the audit then allows an entity to miss the actions its worker acknowledged within a crash's loss window, no more).", valueName: "durable|checkpointed")) var actionDurability: String = "durable"
    @Option(help: "Share of a player's requests that read its own state (GetEntity); NPCs do not read.") var reads: Double = 0.05
    @Option(help: "World units per move.") var step: Double = 24
    @Option(help: "Workers to start with.") var workers: Int = 2
    @Option(help: "Faults to inject, comma-separated (kill, stop, scale, coordinator, pg-restart, netcut), or none.") var faults: String = "kill"
    @Option(help: "Seconds between faults.") var faultEvery: Double = 20
    @Option(help: "Also audit memory every N seconds (duplicates seen twice in a row fail the run).") var auditEvery: Double?
    @Option(help: "The seed of players, walks and faults.") var seed: UInt64 = 1
    @Option(help: "Load generator threads (lanes), each with its own sockets and its share of the entities.") var loadThreads: Int = 2
    @Flag(help: "Send each turn's new moves and reads for a worker as one batch frame (as a game server sends one frame per tick), and its actions as another; spawns go alone.") var batch = false
    @Flag(help: "With --batch: have each batch answered in one frame when its last answer is known, instead of early (Batch.early_reply: what is ready at once, each answer that waits alone later).") var wholeBatchReplies = false
    @Option(help: "Milliseconds between a load lane's sends of new requests (a game server's tick: all those due go together; with --batch, one frame per worker); 0: each as soon as it is due.") var tickMs: Double = 0
    @Option(help: "Where report.json and chart.svg go.") var report: String = ".run/soak"
    @Option(help: "Where the cluster's logs and PID files go (default: <report>/cluster).") var runDir: String?
    @Option(help: "The private PostgreSQL's folder (for pg-restart).") var pgDir: String?
    @Option(help: "scripts/pg (for pg-restart).") var pgScript: String?
    @Option(help: ArgumentHelp("Run each coordinator and worker on a host of its own: the file `scripts/hosts up` wrote (NAME NAMESPACE ADDRESS lines for c1, c2, w1, …). `scripts/cluster soak --hosts netns` makes them.", valueName: "file")) var hosts: String?
    @OptionGroup var settings: SettingsOptions

    static func seconds(_ text: String) throws -> Double {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            if let v = Double(text.dropLast(suffix.count)), v > 0 { return v * factor }
        }
        if let v = Double(text), v > 0 { return v }
        throw ValidationError("--duration: expected a time like 90s, 10m or 1h, got \"\(text)\"")
    }

    func validate() throws {
        _ = try Self.seconds(duration)
        guard players >= 1 else { throw ValidationError("--players must be at least 1") }
        guard rate > 0, rate <= 1000 else { throw ValidationError("--rate must be in (0, 1000]") }
        guard (0...1).contains(actions) else { throw ValidationError("--actions must be between 0 and 1") }
        guard ["durable", "checkpointed"].contains(actionDurability) else {
            throw ValidationError("--action-durability must be durable or checkpointed, not \"\(actionDurability)\"")
        }
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1") }
        guard faultEvery > 0 else { throw ValidationError("--fault-every must be positive") }
        _ = try parsedFaults()
    }

    func parsedFaults() throws -> [FaultKind] {
        if faults == "none" || faults.isEmpty { return [] }
        return try faults.split(separator: ",").map { name in
            guard let kind = FaultKind(rawValue: String(name).trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("--faults: unknown fault \"\(name)\"; known: \(FaultKind.allCases.map(\.rawValue).joined(separator: ", ")), none")
            }
            return kind
        }
    }

    func run() throws {
        Shutdown.installHandlers()
        let s = try settings.load()
        let grid = try Grid(width: s.world.width, height: s.world.height, cellSize: s.world.cellSize)
        let reportDir = URL(fileURLWithPath: report)
        try FileManager.default.createDirectory(at: reportDir, withIntermediateDirectories: true)
        let hostMap = try hosts.map { try HostMap(file: $0) }
        var load = LoadGenerator.Settings(players: players, npcs: npcs ?? players / 10, rateHz: rate, actionShare: actions, stepSize: step, seed: seed)
        load.keys = s.security.folder ?? ""
        load.batch = batch
        load.durableActions = actionDurability == "durable"
        load.earlyReply = !wholeBatchReplies
        guard tickMs >= 0, tickMs <= 1000 else { throw ValidationError("--tick-ms must be 0 to 1000, not \(tickMs)") }
        load.tick = .microseconds(Int64(tickMs * 1000))
        guard (1...64).contains(loadThreads) else { throw ValidationError("--load-threads must be 1 to 64, not \(loadThreads)") }
        load.threads = loadThreads
        guard reads >= 0, actions >= 0, reads + actions <= 1 else { throw ValidationError("--actions and --reads must be shares in [0, 1] that add up to at most 1") }
        load.readShare = reads
        let options = SoakRun.Options(
            duration: try Self.seconds(duration), load: load, workers: workers, faults: try parsedFaults(), faultEvery: faultEvery,
            auditEvery: auditEvery, runDir: URL(fileURLWithPath: runDir ?? reportDir.appendingPathComponent("cluster").path),
            pgDir: pgDir, pgScript: pgScript, sets: settings.overrides + (s.security.folder.map { ["security.keys=\($0)"] } ?? []), grid: grid,
            postgres: s.postgres.connectionParameters(application: "cellcluster-soak"), leaseMs: s.leases.leaseMs)
        var withHosts = options
        withHosts.hosts = hostMap
        let result = try SoakRun(options: withHosts).run(stop: { Shutdown.isRequested }) { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        try result.json().write(to: reportDir.appendingPathComponent("report.json"))
        let chart = Chart.svg(result.timeline, faults: result.faults,
                              title: "CellCluster soak: \(players) players, seed \(seed), faults \(faults)")
        try chart.write(to: reportDir.appendingPathComponent("chart.svg"), atomically: true, encoding: .utf8)
        print(result.table)
        print("report: \(reportDir.appendingPathComponent("report.json").path)  chart: \(reportDir.appendingPathComponent("chart.svg").path)")
        if !result.audit.clean {
            print("\nAUDIT FAILED: \(result.audit.violations.count) violations")
            for v in result.audit.violations.prefix(20) { print("  " + v.description) }
            throw ExitCode(1)
        }
        if result.errors > 0 { print("note: \(result.errors) requests ended in errors: \(result.errorSamples.prefix(5))") }
    }
}
