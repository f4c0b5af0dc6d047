import Foundation
import Wire
import WorldCore
import ZeroMQ

/// Talks to a worker over a DEALER socket: one request at a time with retries, or many in flight
/// with `send` and `receive`. Retries reuse the request id, so a worker applies a request once
/// however often it is sent. Not thread-safe: one owner, like its socket.
public final class CellClient {
    public let endpoint: String
    public let name: String
    let socket: Socket
    /// Numbered from 2^63 up, so that ids a caller gives (`call(_:id:timeout:)`, counting from 1)
    /// under the same sender name never collide with these.
    private var nextRequestID: UInt64 = 1 << 63
    /// The largest reply this client takes: the largest frame it decodes.
    public static let maxReplyBytes = Int64(WireFormat.maxFrameBytes)

    /// - Parameter name: the sender name workers use to recognise retries; unique per client.
    public init(context: Context, endpoint: String, name: String? = nil) throws(ClientError) {
        self.endpoint = endpoint
        self.name = name ?? "client:\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            socket = try Socket(context, .dealer)
            try socket.setReconnectInterval(milliseconds: 50)
            try socket.setMaximumMessageSize(Self.maxReplyBytes)
            try socket.connect(endpoint)
        } catch {
            throw .transport(error)
        }
    }

    deinit { socket.close() }

    /// Sends a request and waits for its reply, resending it (same id) after each timeout.
    /// - Returns: the reply, whatever its code.
    /// - Throws: `ClientError.timeout` when no reply came, `.transport` when the socket failed.
    public func call(_ body: Envelope.OneOf_Body, timeout: Duration = .seconds(5), attempts: Int = 3) throws(ClientError) -> Cellcluster_V1_Reply {
        let id = try send(body)
        for attempt in 1...max(1, attempts) {
            if attempt > 1 { try resend(body, id: id) }
            let deadline = ContinuousClock.now + timeout
            while let reply = try receive(until: deadline) {
                if reply.requestID == id, case .reply(let r)? = reply.body { return r }
            }
        }
        throw .timeout(requestID: id, attempts: attempts, endpoint: endpoint)
    }

    /// Sends a request under a request id the caller chose (the same id a retry at another
    /// worker carries), once, and waits for its reply.
    public func call(_ body: Envelope.OneOf_Body, id: UInt64, timeout: Duration) throws(ClientError) -> Cellcluster_V1_Reply {
        try resend(body, id: id)
        let deadline = ContinuousClock.now + timeout
        while let reply = try receive(until: deadline) {
            if reply.requestID == id, case .reply(let r)? = reply.body { return r }
        }
        throw .timeout(requestID: id, attempts: 1, endpoint: endpoint)
    }

    /// Like `call`, but an error code is thrown as `ClientError.rejected`.
    public func expectOK(_ body: Envelope.OneOf_Body, timeout: Duration = .seconds(5), attempts: Int = 3) throws(ClientError) -> Cellcluster_V1_Reply {
        let reply = try call(body, timeout: timeout, attempts: attempts)
        guard reply.code == .ok else { throw .rejected(code: reply.code, message: reply.message) }
        return reply
    }

    /// Sends a request without waiting; returns its id.
    @discardableResult
    public func send(_ body: Envelope.OneOf_Body) throws(ClientError) -> UInt64 {
        let id = takeRequestID()
        try resend(body, id: id)
        return id
    }

    /// A fresh request id of this client's own.
    public func takeRequestID() -> UInt64 {
        defer { nextRequestID += 1 }
        return nextRequestID
    }

    /// Sends a request again under an id it was sent with before: the worker answers a retry
    /// with its first answer and applies it at most once.
    public func resend(_ body: Envelope.OneOf_Body, id: UInt64) throws(ClientError) {
        var envelope = Envelope()
        envelope.requestID = id
        envelope.sender = name
        envelope.body = body
        try resend(frame: WireFormat.encode(envelope), id: id)
    }

    /// Sends an encoded request envelope (e.g. `WireFormat.encodeMove` or `encodeBatch`, under
    /// this client's `name`) without waiting. Never blocks: with no peer connected (a worker that
    /// died) a DEALER would wait forever; that is `.timeout` at once.
    /// - Parameter id: the envelope's request id, for the error.
    public func resend(frame: [UInt8], id: UInt64) throws(ClientError) {
        let sent: Bool
        do {
            sent = try socket.send([frame], dontWait: true)
        } catch {
            throw .transport(error)
        }
        guard sent else { throw .timeout(requestID: id, attempts: 0, endpoint: endpoint) }
    }

    /// The next reply, or nil at the deadline. Frames that do not decode are skipped.
    public func receive(until deadline: ContinuousClock.Instant) throws(ClientError) -> Envelope? {
        var poller = Poller()
        poller.add(socket)
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return nil }
            let ms = Int(left.milliseconds) + 1
            do {
                guard try !poller.poll(timeoutMilliseconds: ms).isEmpty, let frames = try socket.receive(dontWait: true) else { continue }
                guard let last = frames.last, let envelope = try? WireFormat.decode(last), envelope.body != nil else { continue }
                return envelope
            } catch {
                throw .transport(error)
            }
        }
    }

    /// The next reply already here, without waiting; nil when none is.
    public func receiveNow() throws(ClientError) -> Envelope? {
        while let frame = try receiveFrameNow() {
            guard let envelope = try? WireFormat.decode(frame), envelope.body != nil else { continue }
            return envelope
        }
        return nil
    }

    /// The next frame waiting on the socket, not decoded (nil: none now).
    public func receiveFrameNow() throws(ClientError) -> [UInt8]? {
        do {
            while let frames = try socket.receive(dontWait: true) {
                if let last = frames.last { return last }
            }
            return nil
        } catch {
            throw .transport(error)
        }
    }

    /// Waits until one of `clients` has a reply, or `timeoutMilliseconds` pass: a load generator
    /// that waits here sees each reply the moment it arrives (a sleep would add to its latency).
    /// - Returns: true when a reply is waiting.
    /// With `feed`, a new map wakes it too.
    public static func wait(_ clients: some Sequence<CellClient>, feed: MapFeed? = nil, timeoutMilliseconds: Int) -> Bool {
        var poller = Poller()
        for client in clients { poller.add(client.socket) }
        if let feed { poller.add(feed.socket) }
        return (try? poller.poll(timeoutMilliseconds: timeoutMilliseconds).isEmpty == false) ?? false
    }

    /// Sends raw bytes (tests of malformed frames).
    public func sendRaw(_ bytes: [UInt8]) throws(ClientError) {
        do { try socket.send([bytes]) } catch { throw .transport(error) }
    }
}

extension CellClient {
    /// Creates an entity where its position says.
    @discardableResult
    public func spawn(_ entity: Entity) throws(ClientError) -> Cellcluster_V1_Reply {
        try expectOK(.spawnEntity(.with { $0.entity = .init(entity) }))
    }

    @discardableResult
    public func move(_ id: EntityID, to position: Position, cellHint: CellID? = nil) throws(ClientError) -> Cellcluster_V1_Reply {
        try expectOK(.moveEntity(.with {
            $0.entityID = id.raw
            $0.to = .init(position)
            if let cellHint { $0.cellID = cellHint.raw }
        }))
    }

    @discardableResult
    public func act(_ id: EntityID, action: String, deltas: [String: Double], cellHint: CellID? = nil) throws(ClientError) -> Cellcluster_V1_Reply {
        try expectOK(.entityAction(.with {
            $0.entityID = id.raw
            $0.action = action
            $0.statDeltas = deltas
            if let cellHint { $0.cellID = cellHint.raw }
        }))
    }

    public func entity(_ id: EntityID) throws(ClientError) -> Entity {
        let reply = try expectOK(.getEntity(.with { $0.entityID = id.raw }))
        do {
            return try reply.entity.entity()
        } catch {
            throw .rejected(code: .internal, message: "bad entity in reply: \(error)")
        }
    }

    public func cell(_ id: CellID) throws(ClientError) -> Cellcluster_V1_CellSnapshot {
        try expectOK(.getCell(.with { $0.cellID = id.raw })).cell
    }
}
