import ArgumentParser
import Foundation
import Security

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Make the CURVE keys that say who may talk to the cluster (security.keys).",
        discussion: """
            A key folder holds NAME.key (public: the key and its role) and NAME.key_secret (mode 0600) \
            files. Every process whose security.keys names the folder lets in each key with a .key file \
            there, for what its role allows: client (game requests), worker (also handoffs, activation, \
            membership), operator (also scale, drain, audit, status). worker.key_secret is the cluster's \
            own key: the coordinator and the workers serve with it, and clients connect to its public half.
            """,
        subcommands: [Generate.self, Init.self]
    )

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make one key pair: DIR/NAME.key and DIR/NAME.key_secret.")
        @Option(help: "client, worker or operator.") var role: String
        @Option(help: "The key's name (default: the role); it prefixes its requests' sender names.") var name: String?
        @Option(help: "The key folder.") var dir: String
        @Flag(help: "Replace existing files of that name.") var force = false

        func run() throws {
            guard let role = Role(rawValue: role) else {
                throw ValidationError("--role must be one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let key = try KeyFile.generate(name: name ?? role.rawValue, role: role)
            try key.write(to: dir, replace: force)
            print("\(dir)/\(key.name).key (public, \(role.rawValue)) and \(dir)/\(key.name).key_secret (0600)")
        }
    }

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a local cluster's key set (worker, client, operator) in DIR; keys that exist are kept.")
        @Option(help: "The key folder.") var dir: String

        func run() throws {
            for role in [Role.worker, .client, .operator] where !FileManager.default.fileExists(atPath: "\(dir)/\(role.rawValue).key_secret") {
                try KeyFile.generate(name: role.rawValue, role: role).write(to: dir)
                print("\(dir)/\(role.rawValue).key_secret")
            }
        }
    }
}
