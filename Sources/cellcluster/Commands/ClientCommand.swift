import ArgumentParser
import Client
import Foundation
import Security
import Wire
import WorldCore
import ZeroMQ

struct ClientCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Send one request to a worker and print the answer.",
        subcommands: [Spawn.self, Move.self, Act.self, Event.self, Get.self, Cell.self]
    )

    struct Target: ParsableArguments {
        @Option(help: "A worker's endpoint, as its ready line printed it.")
        var endpoint: String?

        @Option(help: "The coordinator's endpoint (several comma-separated: leader and standbys): the request goes to the worker that owns its cell.")
        var coordinator: String?

        @Option(help: "Seconds to wait for each attempt.")
        var timeout: Double = 5

        @OptionGroup var settings: SettingsOptions

        func validate() throws {
            if (endpoint == nil) == (coordinator == nil) { throw ValidationError("give --endpoint or --coordinator (one of them)") }
        }

        var wait: Duration { .milliseconds(Int(timeout * 1000)) }

        /// Sends to the worker given, or to the owner of `cell` through the coordinator's map.
        func call(_ body: Envelope.OneOf_Body, cell: CellID) throws -> Cellcluster_V1_Reply {
            let s = try settings.load()
            let context = try settings.context(s, defaultKey: .client)
            if let endpoint {
                return try CellClient(context: context, endpoint: endpoint).call(body, timeout: wait)
            }
            let grid = try Grid(width: s.world.width, height: s.world.height, cellSize: s.world.cellSize)
            return try ClusterClient(context: context, coordinator: coordinator!, grid: grid).call(body, cell: cell)
        }

        func grid() throws -> Grid {
            let s = try settings.load()
            return try Grid(width: s.world.width, height: s.world.height, cellSize: s.world.cellSize)
        }
    }

    static func print(_ reply: Cellcluster_V1_Reply) {
        var parts = ["ok"]
        if reply.deferred { parts.append("deferred sequence=\(reply.sequence)") } else if reply.version > 0 { parts.append("version=\(reply.version)") }
        if reply.durable { parts.append("durable") }
        Swift.print(parts.joined(separator: " "))
    }

    static func check(_ reply: Cellcluster_V1_Reply) throws -> Cellcluster_V1_Reply {
        guard reply.code == .ok else { throw ClientError.rejected(code: reply.code, message: reply.message) }
        return reply
    }

    struct Spawn: ParsableCommand {
        @OptionGroup var target: Target
        @Option var id: UInt64
        @Option(help: "player, npc or object") var kind = "npc"
        @Option var x: Double
        @Option var y: Double
        @Option(help: "A stat, name=value (repeatable).") var stat: [String] = []

        func run() throws {
            guard let k = ["player": EntityKind.player, "npc": .npc, "object": .object][kind] else {
                throw ValidationError("--kind must be player, npc or object")
            }
            let position = Position(x: x, y: y)
            let entity = Entity(id: EntityID(id), kind: k, position: position, cell: CellID(0), stats: try parseStats(stat))
            let cell = (try? target.grid().cell(at: position)) ?? CellID(0)
            ClientCommand.print(try ClientCommand.check(try target.call(.spawnEntity(.with { $0.entity = .init(entity) }), cell: cell)))
        }
    }

    struct Move: ParsableCommand {
        @OptionGroup var target: Target
        @Option var id: UInt64
        @Option var x: Double
        @Option var y: Double
        @Option(help: "The cell the entity is in (routes the request; needed when the worker does not hold it).") var cell: Int64 = 0

        func run() throws {
            let body = Envelope.OneOf_Body.moveEntity(.with { $0.entityID = id; $0.to = .with { $0.x = x; $0.y = y }; $0.cellID = cell })
            ClientCommand.print(try ClientCommand.check(try target.call(body, cell: CellID(cell))))
        }
    }

    struct Act: ParsableCommand {
        @OptionGroup var target: Target
        @Option var id: UInt64
        @Option var action: String
        @Option(help: "A stat change, name=delta (repeatable).") var delta: [String] = []
        @Option var cell: Int64 = 0

        func run() throws {
            let deltas = try parseStats(delta)
            let body = Envelope.OneOf_Body.entityAction(.with { $0.entityID = id; $0.action = action; $0.statDeltas = deltas; $0.cellID = cell })
            ClientCommand.print(try ClientCommand.check(try target.call(body, cell: CellID(cell))))
        }
    }

    struct Event: ParsableCommand {
        @OptionGroup var target: Target
        @Option var cell: Int64
        @Option var name: String
        @Option(help: "Set a cell property, key=value (repeatable); with none, a world event named --name.") var set: [String] = []

        func run() throws {
            let body: Envelope.OneOf_Body
            if set.isEmpty {
                body = .worldEvent(.with { $0.cellID = cell; $0.name = name })
            } else {
                var values: [String: String] = [:]
                for pair in set {
                    guard let eq = pair.firstIndex(of: "=") else { throw ValidationError("--set expects key=value, got \(pair)") }
                    values[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
                }
                body = .cellStateChange(.with { $0.cellID = cell; $0.set = values })
            }
            ClientCommand.print(try ClientCommand.check(try target.call(body, cell: CellID(cell))))
        }
    }

    struct Get: ParsableCommand {
        @OptionGroup var target: Target
        @Option var id: UInt64
        @Option(help: "The entity's cell, to ask its owner (with --coordinator); otherwise any worker answers from PostgreSQL.") var cell: Int64 = 0

        func run() throws {
            let e = try ClientCommand.check(try target.call(.getEntity(.with { $0.entityID = id }), cell: CellID(cell))).entity
            let stats = e.stats.keys.sorted().map { "\($0)=\(e.stats[$0]!)" }.joined(separator: " ")
            Swift.print("entity \(e.entityID) kind=\(e.kind) cell=\(e.cellID) x=\(e.position.x) y=\(e.position.y) version=\(e.version) actions=\(e.actions) \(stats)")
        }
    }

    struct Cell: ParsableCommand {
        @OptionGroup var target: Target
        @Option var cell: Int64

        func run() throws {
            let c = try ClientCommand.check(try target.call(.getCell(.with { $0.cellID = cell }), cell: CellID(cell))).cell
            Swift.print("cell \(c.cellID) active=\(c.active) entities=\(c.entities.count) queued=\(c.pendingEvents) state=\(c.state.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))")
            for e in c.entities { Swift.print("  entity \(e.entityID) kind=\(e.kind) x=\(e.position.x) y=\(e.position.y) version=\(e.version)") }
        }
    }
}

func parseStats(_ pairs: [String]) throws -> [String: Double] {
    var stats: [String: Double] = [:]
    for pair in pairs {
        guard let eq = pair.firstIndex(of: "="), let value = Double(pair[pair.index(after: eq)...]), value.isFinite else {
            throw ValidationError("expected name=number, got \(pair)")
        }
        stats[String(pair[..<eq])] = value
    }
    return stats
}
