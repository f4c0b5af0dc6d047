import Logging
import ZeroMQ

/// A connection of the coordinator's own to each member's endpoint, watched for its end. When a
/// worker's process dies, the kernel closes its connections at once: the watch hears of it within
/// milliseconds, where heartbeats take periods to fall silent (see `CoordinatorNode+Vanished`).
/// Nothing is sent on these connections. A connection counts once its handshake succeeded, so a
/// worker this coordinator cannot reach (another network, a refused key) is merely not watched.
/// Owned by the coordinator's thread, as its sockets are.
final class LinkWatch {
    private struct Watch {
        let endpoint: String
        let generation: Int64
        let socket: Socket
        let monitor: SocketMonitor
        var linked = false
    }

    private let context: Context
    private let logger: Logger
    private var watches: [String: Watch] = [:]
    /// Endpoints that could not be watched (logged once each).
    private var unwatchable: Set<String> = []
    /// Workers whose watched connection was closed from their end, and when it was seen.
    private(set) var closed: [String: ContinuousClock.Instant] = [:]

    init(context: Context, logger: Logger) {
        self.context = context
        self.logger = logger
    }

    /// Watches these workers (by endpoint and lease generation) and no others.
    func watch(_ members: [String: (endpoint: String, generation: Int64)]) {
        for (worker, watch) in watches where members[worker].map({ $0.endpoint != watch.endpoint || $0.generation != watch.generation }) ?? true {
            watch.socket.close()
            watches[worker] = nil
            closed[worker] = nil
        }
        for (worker, member) in members where watches[worker] == nil && !member.endpoint.isEmpty {
            do {
                let socket = try Socket(context, .dealer)
                let monitor = try socket.monitor([.handshakeSucceeded, .disconnected])
                try socket.connect(member.endpoint)
                watches[worker] = Watch(endpoint: member.endpoint, generation: member.generation, socket: socket, monitor: monitor)
            } catch {
                if unwatchable.insert(member.endpoint).inserted {
                    logger.warning("cannot watch worker \(worker)'s connection; its death is noticed by its silence alone", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// The sockets the events arrive on, for the coordinator's poller.
    var eventSockets: [Socket] { watches.values.map(\.monitor.events) }

    /// Reads the events that arrived. - Returns: the workers whose connection closed just now.
    func takeEvents(now: ContinuousClock.Instant) -> [String] {
        var lost: [String] = []
        for worker in watches.keys.sorted() {
            do {
                while let event = try watches[worker]!.monitor.next() {
                    if event.kind == .handshakeSucceeded {
                        watches[worker]!.linked = true
                        closed[worker] = nil
                    } else if event.kind == .disconnected && watches[worker]!.linked {
                        watches[worker]!.linked = false
                        closed[worker] = now
                        lost.append(worker)
                    }
                }
            } catch {
                logger.warning("cannot read the watch of worker \(worker)'s connection", metadata: ["error": "\(error)"])
            }
        }
        return lost
    }
}
