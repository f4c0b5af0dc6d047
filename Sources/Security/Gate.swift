import Wire

/// Decides, for each decoded message a worker or coordinator receives, whether its sender may send
/// it; with CURVE on it also scopes the sender name by the authenticated key.
public struct Gate: Sendable {
    /// False: CURVE is off and everyone is let in as before (the key folder was not set).
    public let enforcing: Bool

    public init(enforcing: Bool) { self.enforcing = enforcing }

    /// The outcome for one message.
    public enum Decision: Equatable, Sendable {
        case admit
        /// Answer PERMISSION_DENIED with this message.
        case deny(String)
    }

    /// Admits or refuses `envelope` from the peer whose authenticated user id (from the ZAP
    /// handler: "role/key name") is `user`. An admitted client's or operator's `sender` becomes
    /// "<key name>/<sender>", so request ids and logs follow the key, not what the peer claims.
    public func admit(_ envelope: inout Envelope, user: String?) -> Decision {
        guard enforcing else { return .admit }
        guard let user, let identity = KeyIdentity(userID: user) else {
            return .deny("the sender has no authenticated key")
        }
        if let body = envelope.body, !identity.role.permits(body) {
            return .deny("a \(identity.role.rawValue) key (\(identity.name)) may not send \(Role.name(of: body))")
        }
        if identity.role != .worker {
            envelope.sender = identity.name + "/" + envelope.sender
        }
        return .admit
    }
}

/// Who an authenticated key is: its role and the name in its key file. The ZAP handler attaches it
/// to every message as the user id "role/name".
public struct KeyIdentity: Sendable, Equatable {
    public let role: Role
    public let name: String

    public init(role: Role, name: String) {
        self.role = role
        self.name = name
    }

    public init?(userID: String) {
        guard let slash = userID.firstIndex(of: "/"), let role = Role(rawValue: String(userID[..<slash])) else { return nil }
        self.role = role
        name = String(userID[userID.index(after: slash)...])
    }

    public var userID: String { "\(role.rawValue)/\(name)" }
}
