import Foundation
import WorldCore

/// One simulated player or NPC: where it is, what it asked for, and what the cluster
/// acknowledged, which is what the audit holds the cluster to. A class: its lane reads and
/// changes it in place many times a second (a struct in an array that a class holds is copied
/// whole on each read, its history and acknowledgements retained and released with it).
final class SimulatedEntity {
    enum Op: Sendable {
        case spawn(Entity)
        case move(Position)
        case action
        /// A read of its own state (players only: an NPC may wait in an inactive cell's queue).
        case read

        /// An action: in a batch, an envelope in a frame of its own (a durable one is answered
        /// only once it is stored, `LoadGenerator.Settings.durableActions`).
        var isAction: Bool {
            if case .action = self { return true }
            return false
        }
    }

    /// Its request in flight. A class: the lane reads it for every answer and the retry scan for
    /// every request in flight, and a struct was copied whole on each read and write (its op,
    /// strings and set retained and released; a fifth of a lane's time, session 28).
    final class Inflight {
        let op: Op
        var requestID: UInt64
        /// The worker it was last sent to, and that worker's endpoint (its incarnation).
        var worker: String
        var endpoint: String
        var firstSent: Moment
        var lastSent: Moment
        var attempts = 1
        /// When to send it again (`Moment.never`: when its attempt times out).
        var retryAt = Moment.never
        /// Its last attempt is sent and not answered yet: an answer to it is taken (once).
        var awaiting = false
        /// An earlier attempt got no answer: it may have been applied.
        var possiblyApplied = false
        /// The last retryable answer (why it is still waiting).
        var lastAnswer: String?

        /// `awaiting`: it was handed to a socket (false: it has not left yet).
        init(op: Op, requestID: UInt64, worker: String, endpoint: String, sent: Moment, awaiting: Bool) {
            self.op = op
            self.awaiting = awaiting
            self.requestID = requestID
            self.worker = worker
            self.endpoint = endpoint
            firstSent = sent
            lastSent = sent
        }
    }

    /// One line of history, printed with a violation.
    struct Step: CustomStringConvertible {
        /// What happened; an acknowledged action (a tenth of all answers) is kept as its values and
        /// made into text only when printed.
        enum What {
            case text(String)
            case action(count: UInt64, worker: String, deferred: Bool, durable: Bool)
        }

        let at: Double
        let what: What
        var description: String {
            let text = switch what {
            case .text(let text): text
            case let .action(count, worker, deferred, durable):
                "action \(count) acknowledged by \(worker)\(deferred ? " (queued)" : "")\(durable ? " (durable)" : "")"
            }
            return String(format: "%9.3f s  ", at) + text
        }
    }

    let id: EntityID
    let kind: EntityKind
    var position: Position
    var lastCell: CellID
    var heading: Double
    var nextAt: Moment
    var spawned = false
    var inflight: Inflight?
    /// Acknowledged actions (durable: committed before the answer), and actions that may have
    /// been applied without an answer reaching the generator (or, checkpointed, applied a second
    /// time by a retry after an unanswered attempt).
    var ackedActions: UInt64 = 0
    var unknownActions: UInt64 = 0
    var ackedMoves: UInt64 = 0
    /// The version of its last acknowledged move (the moves themselves: its lane's `AckedMoves`).
    var lastAckedVersion: UInt64 = 0
    /// Moves whose outcome is not known exactly (deferred, or answered after a retry elsewhere).
    var uncertainMoves = false
    /// The last 40 steps of its history (`note`).
    var history: ArraySlice<Step> { steps.suffix(40) }
    /// Kept 40 to 80 at a time: trimmed in one go, not shifted at every step.
    private var steps: [Step] = []

    init(id: EntityID, kind: EntityKind, position: Position, lastCell: CellID, heading: Double, nextAt: Moment) {
        self.id = id
        self.kind = kind
        self.position = position
        self.lastCell = lastCell
        self.heading = heading
        self.nextAt = nextAt
    }

    func note(_ at: Double, _ what: String) { note(at, .text(what)) }

    func note(_ at: Double, _ what: Step.What) {
        steps.append(Step(at: at, what: what))
        if steps.count > 80 { steps.removeFirst(steps.count - 40) }
    }
}
