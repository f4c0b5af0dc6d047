import Cluster
import Foundation
import ArgumentParser
import Checkpoint
import Postgres

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
            let parameters = try settings.load().postgres.connectionParameters()
            let connection = try Connection(parameters)
            defer { connection.close() }
            let report = try Migrator().migrate(connection)
            if report.applied.isEmpty {
                print("schema is current at version \(report.current) (\(parameters.redacted))")
            } else {
                let list = report.applied.map(String.init).joined(separator: ", ")
                print("applied migrations \(list); schema is at version \(report.current) (\(parameters.redacted))")
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
