import ArgumentParser
import Client
import Config
import Foundation
import Security
import Wire
import WorldCore
import ZeroMQ

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the shard map, the workers, and each worker's monitor figures."
    )

    @OptionGroup var settings: SettingsOptions

    @Option(help: "The coordinators' endpoints, comma-separated (default: coordinator.endpoint and coordinator.standby).")
    var coordinator: String?

    @Flag(help: "Print one JSON object (the protocol's StatusReply in proto3 JSON: the map and every worker that answered, with its monitor figures) instead of tables.")
    var json = false

    func run() throws {
        let s = try settings.load()
        let grid = try Grid(width: s.world.width, height: s.world.height, cellSize: s.world.cellSize)
        let client = try ClusterClient(context: try settings.context(s, defaultKey: .operator), coordinator: coordinator ?? s.coordinator.endpoints.joined(separator: ","), grid: grid)
        let statuses = try client.workerStatuses()
        let map = client.map!
        if json {
            let missing = Set(map.workers.map(\.workerID)).subtracting(statuses.map(\.workerID))
            print(Cellcluster_V1_StatusReply.with { $0.map = map; $0.workers = statuses }.jsonText)
            if !missing.isEmpty { throw ExitCode(3) }  // the JSON lists who answered; the exit code says someone did not
            return
        }
        print("shard map epoch \(map.epoch): \(map.columns) x \(map.rows) cells on a Hilbert curve, \(map.workers.count) workers")
        let header = ["worker", "endpoint", "cells", "active", "entities", "applied", "deferred", "hit rate", "db reads", "db writes", "checkpoints", "ckpt p99 ms", "unsaved age ms"]
        var rows = [header]
        for st in statuses {
            let m = st.monitor
            let total = m.cacheHits + m.cacheMisses
            rows.append([
                st.workerID, st.endpoint, "\(st.ownedCells)", "\(st.activeCells)", "\(st.entities)", "\(m.eventsApplied)",
                "\(m.eventsDeferred)", total == 0 ? "-" : String(format: "%.1f%%", Double(m.cacheHits) / Double(total) * 100),
                "\(m.dbReads)", "\(m.dbWrites)", "\(m.checkpoints)", String(format: "%.1f", m.checkpointP99Ms), "\(m.oldestUnsavedAgeMs)",
            ])
        }
        let widths = header.indices.map { i in rows.map { $0[i].count }.max()! }
        for row in rows {
            print(row.indices.map { row[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
        // "main" is a worker's request thread: it never waits on PostgreSQL, so it stays at 0.
        print("round trips to PostgreSQL by thread:")
        for st in statuses {
            let calls = st.monitor.storageCallsByThread.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            print("  \(st.workerID): \(calls.isEmpty ? "none" : calls.joined(separator: ", "))")
        }
        let missing = Set(map.workers.map(\.workerID)).subtracting(statuses.map(\.workerID))
        if !missing.isEmpty { print("no answer from: \(missing.sorted().joined(separator: ", "))") }
    }
}
