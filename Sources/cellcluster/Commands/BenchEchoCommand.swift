import ArgumentParser
import Bench

/// The stand-in worker of `bench e2e`'s transport floor (`EchoServer`); started by the bench,
/// not by hand, so it is left out of the help.
struct BenchEchoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-echo",
        abstract: "Answer every ZeroMQ frame with a fixed-size reply, for bench e2e's transport floor.",
        shouldDisplay: false
    )

    @Option(help: "The endpoint to bind (tcp://127.0.0.1:0: a free loopback port).")
    var bind = "tcp://127.0.0.1:0"

    @Option(help: "The size of every reply, in bytes.")
    var replyBytes: Int

    func run() throws {
        try EchoServer.serve(bind: bind, replyBytes: replyBytes)
    }
}
