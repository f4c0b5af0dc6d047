import Cluster
import Foundation
import ArgumentParser
import Checkpoint
import Postgres
import WorldCore

struct DatabaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the PostgreSQL schema.",
        subcommands: [Migrate.self, Status.self]
    )

    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or upgrade the schema (idempotent; safe to run from several processes).")

        @OptionGroup var settings: SettingsOptions

        func run() throws {
            let loaded = try settings.load()
            let parameters = try loaded.postgres.connectionParameters()
            let connection = try Connection(parameters)
            defer { connection.close() }
            let report = try Migrator().migrate(connection)
            if report.applied.isEmpty {
                print("schema is current at version \(report.current) (\(parameters.redacted))")
            } else {
                let list = report.applied.map(String.init).joined(separator: ", ")
                print("applied migrations \(list); schema is at version \(report.current) (\(parameters.redacted))")
            }
            let columns = try Grid(width: loaded.world.width, height: loaded.world.height, cellSize: loaded.world.cellSize).columns
            switch try CellBlockLayout.adopt(columns: columns, connection) {
            case .unchanged:
                break
            case .adopted(let previous):
                print("entities are indexed by blocks of 8 x 8 cells of a grid \(columns) cells wide (was \(previous))")
            case .kept(let stored):
                FileHandle.standardError.write(Data("""
                    warning: entities are stored with blocks of a grid \(stored) cells wide, and cluster.yml's grid is \(columns) \
                    wide; they stay as they are (cells load correctly, each load reads more rows)

                    """.utf8))
            }
            warnAboutServer(connection)
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the schema version and what is pending.")

        @OptionGroup var settings: SettingsOptions

        func run() throws {
            let parameters = try settings.load().postgres.connectionParameters()
            let connection = try Connection(parameters)
            defer { connection.close() }
            let migrator = Migrator()
            let current = try migrator.currentVersion(connection)
            let pending = migrator.migrations.filter { $0.version > current }
            print("schema version \(current) at \(parameters.redacted); \(pending.count) pending")
            for migration in pending { print("  pending \(migration.version): \(migration.name)") }
            warnAboutServer(connection)
        }
    }
}

/// Prints `ServerAdvice` on standard error (a server setting that slows the cluster down).
private func warnAboutServer(_ connection: Connection) {
    do {
        for line in try ServerAdvice.read(connection) { FileHandle.standardError.write(Data("warning: \(line)\n".utf8)) }
    } catch {
        FileHandle.standardError.write(Data("warning: could not read the server's autovacuum settings: \(error)\n".utf8))
    }
}
