import Foundation
import ZeroMQ

/// A stand-in for a worker that does no work: a ROUTER that answers every frame with a reply of
/// a fixed size, in a process of its own (`cellcluster bench-echo`). `bench e2e` drives it with
/// the very frames, sizes and concurrency of a batched phase, so the CPU it spends per frame is
/// what ZeroMQ and the kernel alone cost a worker for that phase: the floor under the workers'
/// CPU per batched move.
public enum EchoServer {
    /// The largest reply it makes (a worker's batch reply is a few kilobytes).
    public static let maxReplyBytes = 1 << 20
    /// The largest frame it takes (the workers' default `limits.max_frame_bytes`).
    public static let maxFrameBytes = 1 << 20

    /// Binds `endpoint`, prints `ready endpoint=… pid=…`, and answers until the process is
    /// signalled. Each message's routing frames go back unchanged; its last frame is replaced by
    /// `replyBytes` bytes.
    public static func serve(bind endpoint: String, replyBytes: Int) throws -> Never {
        guard (0...maxReplyBytes).contains(replyBytes) else {
            throw BenchFailure(message: "--reply-bytes must be from 0 to \(maxReplyBytes), got \(replyBytes)")
        }
        // SIGINT and SIGTERM end it, whatever mask and dispositions it inherited (a test
        // runner's blocked mask survives exec); set before libzmq's thread inherits the mask.
        var ending = sigset_t()
        sigemptyset(&ending)
        for number in [SIGINT, SIGTERM] {
            sigaddset(&ending, number)
            signal(number, SIG_DFL)
        }
        pthread_sigmask(SIG_UNBLOCK, &ending, nil)
        let context = try Context()
        let socket = try Socket(context, .router)
        try socket.setMaximumMessageSize(Int64(maxFrameBytes))  // a larger frame: its peer is disconnected
        let bound = try socket.bind(endpoint)
        print("ready endpoint=\(bound) pid=\(getpid())")
        fflush(nil)  // every stream: the ready line must reach a pipe at once
        let reply = [UInt8](repeating: 0x2A, count: replyBytes)
        var poller = Poller()
        poller.add(socket)
        while true {
            guard try !poller.poll(timeoutMilliseconds: 1000).isEmpty else { continue }
            while var frames = try socket.receive(dontWait: true) {
                guard frames.count >= 2 else { continue }  // a ROUTER message has its peer's id first
                frames[frames.count - 1] = reply
                _ = try socket.send(frames)
            }
        }
    }
}
