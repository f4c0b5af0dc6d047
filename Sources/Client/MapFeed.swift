import Wire
import ZeroMQ

/// A subscription to the coordinator's map feed: every shard map the coordinator stores arrives
/// here the moment it is stored (and the current one again every second), so a client learns a
/// failover without waiting for a timeout. Non-blocking; one owner, like its socket.
public final class MapFeed {
    public private(set) var endpoint: String
    let socket: Socket
    /// Newer maps than this one are returned by `next`.
    private var epoch: UInt64

    /// - Parameters:
    ///   - endpoint: the `feed_endpoint` of a map the coordinator sent.
    ///   - epoch: the epoch of the map the caller holds.
    public init(context: Context, endpoint: String, epoch: UInt64) throws(ClientError) {
        self.endpoint = endpoint
        self.epoch = epoch
        do {
            socket = try Socket(context, .sub)
            try socket.setLinger(milliseconds: 0)
            try socket.setReconnectInterval(milliseconds: 100)
            try socket.setMaximumMessageSize(CellClient.maxReplyBytes)
            try socket.subscribe(Array("map".utf8))
            try socket.connect(endpoint)
        } catch {
            throw .transport(error)
        }
    }

    deinit { socket.close() }

    /// Follows a coordinator that publishes elsewhere now (restarted on another port).
    public func follow(_ newEndpoint: String) throws(ClientError) {
        guard !newEndpoint.isEmpty, newEndpoint != endpoint else { return }
        do {
            try socket.connect(newEndpoint)  // first: a bad address leaves the old subscription in place
            try? socket.disconnect(endpoint)
        } catch {
            throw .transport(error)
        }
        endpoint = newEndpoint
    }

    /// `feed` kept on the feed `map` names (a new subscription when there was none), with `map`
    /// seen. The feed is a shortcut: when it cannot be had, maps are still fetched.
    public static func following(_ feed: MapFeed?, _ map: Cellcluster_V1_ShardMap, context: Context) -> MapFeed? {
        guard !map.feedEndpoint.isEmpty else { return feed }
        guard let feed else { return try? MapFeed(context: context, endpoint: map.feedEndpoint, epoch: map.epoch) }
        try? feed.follow(map.feedEndpoint)
        feed.saw(epoch: map.epoch)
        return feed
    }

    /// The caller took a map from elsewhere (a reply): older ones on the feed are skipped.
    public func saw(epoch: UInt64) { self.epoch = max(self.epoch, epoch) }

    /// The newest map queued on the feed that is newer than any seen; nil when there is none.
    /// Messages that do not decode are skipped.
    public func next() -> Cellcluster_V1_ShardMap? {
        var newest: Cellcluster_V1_ShardMap?
        while let frames = try? socket.receive(dontWait: true) {
            guard frames.count == 2, let envelope = try? WireFormat.decode(frames[1]),
                  case .shardMap(let map)? = envelope.body, map.epoch > epoch else { continue }
            epoch = map.epoch
            newest = map
        }
        return newest
    }
}
