import Client
import Wire

/// Keeps a number of frames in flight at each of several clients at once, as a load that meets
/// the cluster from many players would. One wait covers every client's socket, and each client's
/// next frames go out as soon as its replies are read, so no worker idles while the bench reads
/// another worker's replies. (The loop it replaces served the clients in turn: it drained one
/// worker's window before sending to the next, so the workers took turns being busy.)
enum InFlight {
    /// Sends until `requests` were sent and waits for their answers, or until `limit` passes.
    /// - Parameters:
    ///   - window: frames in flight per client.
    ///   - perFrame: requests in each frame.
    ///   - send: sends one frame to client `client`; `first` counts the requests sent before it.
    ///   - check: checks one reply frame (throws on a failed request).
    /// - Returns: the requests answered.
    static func drive(_ clients: [CellClient], window: Int, perFrame: Int, requests: Int, limit: Duration = .seconds(120),
                      send: (_ client: Int, _ first: Int) throws -> Void, check: (Envelope) throws -> Void) throws -> Int {
        var outstanding = Array(repeating: 0, count: clients.count)
        var sent = 0, received = 0
        func topUp(_ i: Int) throws {
            while outstanding[i] < window && sent < requests {
                try send(i, sent)
                outstanding[i] += 1
                sent += perFrame
            }
        }
        for i in clients.indices { try topUp(i) }
        let deadline = ContinuousClock.now + limit
        while received < sent && ContinuousClock.now < deadline {
            _ = CellClient.wait(clients, timeoutMilliseconds: 5)
            for (i, client) in clients.enumerated() {
                while outstanding[i] > 0, let envelope = try client.receiveNow() {
                    try check(envelope)
                    outstanding[i] -= 1
                    received += perFrame
                }
                try topUp(i)
            }
        }
        return received
    }
}
