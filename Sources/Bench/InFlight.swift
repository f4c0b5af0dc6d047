import Client
import Wire

/// Keeps a number of frames in flight at each of several clients at once, as a load that meets
/// the cluster from many players would. One wait covers every client's socket, and each client's
/// next frames go out as soon as its replies are read, so no worker idles while the bench reads
/// another worker's replies. (The loop it replaces served the clients in turn: it drained one
/// worker's window before sending to the next, so the workers took turns being busy.)
enum InFlight {
    /// What one reply frame said.
    struct Answer {
        /// Requests answered OK.
        var ok: Int
        /// Requests refused with OVERLOADED (nothing applied): sent again after a pause.
        var refused: Int
    }

    /// Requests answered, and refusals sent again.
    struct Outcome {
        var answered = 0
        var refused = 0
    }

    /// Sends until `requests` were answered, or until `limit` passes. A worker that refuses
    /// (OVERLOADED: past its loss window at saturation) gets nothing new for 20 ms, and what it
    /// refused goes again, as a client that backs off would send it.
    /// - Parameters:
    ///   - window: frames in flight per client.
    ///   - perFrame: requests in each frame.
    ///   - send: sends one frame to client `client`; `first` counts the requests sent before it.
    ///   - check: reads one reply frame (throws on any other failure); nil for a frame that is
    ///     not a reply (skipped, as `CellClient.receiveNow` skips it).
    static func drive(_ clients: [CellClient], window: Int, perFrame: Int, requests: Int, limit: Duration = .seconds(120),
                      send: (_ client: Int, _ first: Int) throws -> Void, check: ([UInt8]) throws -> Answer?) throws -> Outcome {
        var outstanding = Array(repeating: 0, count: clients.count)
        var pausedUntil = Array(repeating: ContinuousClock.now, count: clients.count)
        var sent = 0
        var outcome = Outcome()
        func topUp(_ i: Int) throws {
            guard ContinuousClock.now >= pausedUntil[i] else { return }
            while outstanding[i] < window && sent < requests {
                try send(i, sent)
                outstanding[i] += 1
                sent += perFrame
            }
        }
        for i in clients.indices { try topUp(i) }
        let deadline = ContinuousClock.now + limit
        while outcome.answered < requests && ContinuousClock.now < deadline {
            _ = CellClient.wait(clients, timeoutMilliseconds: 5)
            for (i, client) in clients.enumerated() {
                while outstanding[i] > 0, let frame = try client.receiveFrameNow() {
                    guard let answer = try check(frame) else { continue }
                    outstanding[i] -= 1
                    outcome.answered += answer.ok
                    if answer.refused > 0 {
                        outcome.refused += answer.refused
                        sent -= answer.refused
                        pausedUntil[i] = .now + .milliseconds(20)
                    }
                }
                try topUp(i)
            }
        }
        return outcome
    }
}
