import Testing
import TestSupport

@Suite struct CommandLineTests {
    @Test func helpListsEverySubcommand() throws {
        let top = try CommandRunner.run(["--help"])
        #expect(top.status == 0)
        // A subcommand stands first on its own line of the listing (with or without an abstract after it).
        func lists(_ help: String, _ name: String) -> Bool {
            help.split(separator: "\n").contains { $0.split(separator: " ").first.map(String.init) == name && $0.hasPrefix("  ") }
        }
        for name in ["coordinator", "worker", "status", "client", "db", "config", "bench"] {
            #expect(lists(top.stdout, name), "\(name) missing from --help")
        }
        let client = try CommandRunner.run(["client", "--help"])
        for name in ["spawn", "move", "act", "event", "get", "cell"] { #expect(lists(client.stdout, name), "client \(name) missing") }
        let db = try CommandRunner.run(["db", "--help"])
        for name in ["migrate", "status"] { #expect(lists(db.stdout, name), "db \(name) missing") }
        let config = try CommandRunner.run(["config", "--help"])
        for name in ["check", "defaults"] { #expect(lists(config.stdout, name), "config \(name) missing") }
    }

    @Test func versionPrints() throws {
        let outcome = try CommandRunner.run(["--version"])
        #expect(outcome.status == 0)
        #expect(outcome.stdout.split(separator: ".").count == 3)
    }

    @Test func migrateTwiceThenStatusShowsNothingPending() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let env = ["PGDATABASE": parameters.database ?? ""]
            let first = try CommandRunner.run(["db", "migrate"], environment: env)
            #expect(first.status == 0, "\(first.stderr)")
            #expect(first.stdout.contains("applied migrations 1, 2"))
            // The newest migration the first run applied is where the second finds the schema.
            let after = try #require(first.stdout.components(separatedBy: "schema is at version ").dropFirst().first)
            let newest = try #require(Int(after.prefix { $0.isNumber }))
            let second = try CommandRunner.run(["db", "migrate"], environment: env)
            #expect(second.status == 0)
            #expect(second.stdout.contains("schema is current at version \(newest)"), "\(second.stdout)")
            let status = try CommandRunner.run(["db", "status"], environment: env)
            #expect(status.stdout.contains("0 pending"))
        }
    }

    @Test func migrateAgainstADeadServerNamesIt() throws {
        let port = TestDatabase.unusedPort()
        let outcome = try CommandRunner.run(["db", "migrate"], environment: ["PGHOST": "127.0.0.1", "PGPORT": String(port)])
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains("127.0.0.1:\(port)"))
    }

    @Test func aBrokenSettingIsNamedAndTheExitCodeSaysSo() throws {
        let outcome = try CommandRunner.run(["config", "check", "--set", "world.cell_size=0"])
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains("world.cell_size"))
        let good = try CommandRunner.run(["config", "check", "--set", "workers.count=3"])
        #expect(good.status == 0)
        #expect(good.stdout.contains("workers: 3"))
    }

    @Test func theDefaultsCommandPrintsTheShippedFile() throws {
        let outcome = try CommandRunner.run(["config", "defaults"])
        #expect(outcome.stdout.contains("cell_size: 64"))
    }
}
