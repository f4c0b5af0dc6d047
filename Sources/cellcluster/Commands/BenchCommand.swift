import Cluster
import ArgumentParser
import Bench

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run a benchmark and print its figures (build with -c release for real numbers).",
        discussion: """
            memory          entity updates applied in memory vs a bare dictionary write
            events          entity actions and cell state changes applied
            activation      cells activated from a loaded (in-memory) store
            eviction        clean inactive cells evicted
            cache-policies  hit rates of LRU, TTL, SIZE and combinations on a walking-players trace
            checkpoint      write-behind vs write-through (the design's test), and checkpoint rows/s
                            vs a raw batched INSERT; needs PostgreSQL (a scratch database is used)
            rebalance       a crowd walking across a 2-worker cluster (largest load imbalance), then
                            a third worker joining (time until the map settles); scratch database
            e2e             moves through the client library into a 2-worker cluster (started here,
                            on a scratch database), next to a raw ZeroMQ round trip; each plain
                            batched phase again against echo processes (the transport's floor)
            """
    )

    enum Name: String, ExpressibleByArgument, CaseIterable {
        case memory, events, activation, eviction, checkpoint, e2e, rebalance
        case cachePolicies = "cache-policies"
    }

    @Argument(help: "Which benchmark: \(Name.allCases.map(\.rawValue).joined(separator: ", ")).")
    var name: Name

    @Option(help: "Operations to time (updates, events, cells); each benchmark has a default.")
    var count: Int?

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @OptionGroup var settings: SettingsOptions

    func validate() throws {
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
    }

    func run() throws {
        let report: BenchReport
        switch name {
        case .memory: report = try MemoryBench.run(updates: count ?? 5_000_000)
        case .events: report = try MemoryBench.runEvents(updates: count ?? 2_000_000)
        case .activation: report = try CacheBench.runActivation(cells: count ?? 5_000)
        case .eviction: report = try CacheBench.runEviction(cells: count ?? 50_000)
        case .cachePolicies: report = try CacheBench.runPolicies(players: 50, steps: count ?? 5_000, budget: 2_000)
        case .checkpoint:
            let s = try settings.load()
            var options = CheckpointBench.Options()
            options.batchSize = s.checkpoint.batchSize
            if let count { options.entities = count }
            report = try CheckpointBench.run(s.postgres.connectionParameters(), options: options)
        case .e2e:
            let s = try settings.load()
            report = try EndToEndBench.run(s.postgres.connectionParameters(), requests: count ?? 20_000)
        case .rebalance:
            let s = try settings.load()
            report = try RebalanceBench.run(s.postgres.connectionParameters(), players: count ?? 300, seconds: 30)
        }
        print(json ? report.json() : report.table())
    }
}
