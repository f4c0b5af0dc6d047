import ArgumentParser
import Client
import Config
import Foundation
import Security
import Wire
import ZeroMQ

struct AdminCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Tell the coordinator to change the cluster: scale the worker count, drain a worker.",
        subcommands: [Scale.self, Drain.self]
    )

    struct Target: ParsableArguments {
        @OptionGroup var settings: SettingsOptions
        @Option(help: "The coordinators' endpoints, comma-separated (default: coordinator.endpoint and coordinator.standby); a standby sends the request on to the leader.")
        var coordinator: String?

        func send(_ body: Envelope.OneOf_Body) throws {
            let s = try settings.load()
            let link = try CoordinatorLink(context: try settings.context(s, defaultKey: .operator), endpoints: coordinator ?? s.coordinator.endpoints.joined(separator: ","), name: "admin:\(getpid())")
            var answer: Envelope?
            for _ in 0..<(2 * link.endpoints.count) where answer == nil {
                answer = try link.call(body, timeout: .seconds(5))
            }
            guard case .reply(let reply)? = answer?.body else {
                print("no coordinator answered at \(link.endpoints.joined(separator: ", "))")
                throw ExitCode(1)
            }
            print(reply.message)
            if reply.code != .ok { throw ExitCode(1) }
        }
    }

    struct Scale: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ask for N workers: extra workers hand their cells off and exit; new ones get cells as they join.",
            discussion: "The coordinator does not start processes: `scripts/cluster scale N` starts or stops them and calls this.")
        @Argument(help: "How many workers the cluster should have.") var workers: Int
        @OptionGroup var target: Target
        func run() throws {
            guard workers >= 1 else { throw ValidationError("scale: at least 1 worker") }
            try target.send(.scaleRequest(.with { $0.workers = UInt32(workers) }))
        }
    }

    struct Drain: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Move every cell off one worker; it exits once it holds none.")
        @Argument(help: "The worker id.") var worker: String
        @OptionGroup var target: Target
        func run() throws {
            try target.send(.drainRequest(.with { $0.workerID = worker }))
        }
    }
}
