import Checkpoint
import Foundation
import Postgres

/// A migrated database made for one benchmark run and dropped after it, so a benchmark never
/// touches the cluster's own data.
func withScratchDatabase<T>(_ parameters: ConnectionParameters, prefix: String, _ body: (ConnectionParameters) throws -> T) throws -> T {
    let name = "\(prefix)_\(getpid())"
    let admin = try Connection(parameters)
    defer { admin.close() }
    try admin.execute(script: "DROP DATABASE IF EXISTS \(name)")
    try admin.execute(script: "CREATE DATABASE \(name)")
    defer { _ = try? admin.execute(script: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
    var scratch = parameters
    scratch.database = name
    scratch.applicationName = "cellcluster-bench"
    let setup = try Connection(scratch)
    defer { setup.close() }
    _ = try Migrator().migrate(setup)
    return try body(scratch)
}
