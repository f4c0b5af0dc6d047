/// The CURVE setup of every socket made from one context: each socket that binds becomes a CURVE
/// server holding `own`, and each socket that connects presents `own` to a server whose public
/// key is `serverKey`. Plain (unauthenticated) peers never complete a handshake with such a socket.
public struct CurveSetup: Sendable, Equatable {
    /// This process's key pair.
    public var own: CurveKeyPair
    /// The public key of the servers this process connects to (Z85, 40 characters).
    public var serverKey: String

    public init(own: CurveKeyPair, serverKey: String) {
        self.own = own
        self.serverKey = serverKey
    }
}

extension CurveKeyPair {
    /// Whether `key` is a Z85-encoded 32-byte CURVE key (40 characters of the Z85 alphabet).
    public static func isValidKey(_ key: String) -> Bool {
        let alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)
        return key.utf8.count == 40 && key.utf8.allSatisfy(alphabet.contains)
    }
}
