import Wire
import ZeroMQ

/// A client's link to the cluster's coordinators (the leader and its standbys): it talks to one,
/// moves to the next when that one is silent, and follows a standby's NOT_LEADER to the leader.
/// Any coordinator answers a map request; scale, drain and status need the leader.
public final class CoordinatorLink {
    public let endpoints: [String]
    public private(set) var client: CellClient
    private let context: Context
    private let name: String

    /// - Parameter endpoints: one endpoint, or several comma-separated.
    public init(context: Context, endpoints: String, name: String) throws(ClientError) {
        let list = endpoints.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        self.endpoints = list.isEmpty ? [endpoints] : list
        self.context = context
        self.name = name
        client = try CellClient(context: context, endpoint: self.endpoints[0], name: name)
    }

    public var endpoint: String { client.endpoint }

    /// Sends `body` and waits up to `timeout` for the answer, following a standby's redirect to
    /// the leader (at most twice). Silence moves the link to the next coordinator.
    /// - Returns: the answering envelope (a NOT_LEADER reply when no coordinator leads yet), or
    ///   nil when none came in time.
    public func call(_ body: Envelope.OneOf_Body, timeout: Duration) throws(ClientError) -> Envelope? {
        let deadline = ContinuousClock.now + timeout
        var follows = 0
        while true {
            let id = try client.send(body)
            var answer: Envelope?
            while let envelope = try client.receive(until: deadline) {
                if envelope.requestID == id { answer = envelope; break }
            }
            guard let answer else {
                try moveOn()
                return nil
            }
            if case .reply(let r)? = answer.body, r.code == .notLeader, !r.redirectEndpoint.isEmpty,
               r.redirectEndpoint != client.endpoint, follows < 2, ContinuousClock.now < deadline {
                follows += 1
                try use(r.redirectEndpoint)
                continue
            }
            return answer
        }
    }

    /// Talks to the next coordinator listed.
    public func moveOn() throws(ClientError) {
        guard endpoints.count > 1 else { return }
        let index = endpoints.firstIndex(of: client.endpoint) ?? -1
        try use(endpoints[(index + 1) % endpoints.count])
    }

    private func use(_ endpoint: String) throws(ClientError) {
        guard endpoint != client.endpoint else { return }
        client = try CellClient(context: context, endpoint: endpoint, name: name)
    }
}
