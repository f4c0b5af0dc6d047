import Foundation
import ZeroMQ

/// The keys one process uses, read from a key folder (`security.keys`):
/// - `worker.key_secret` is the cluster's own key: the coordinator and the workers serve with it and
///   present it to each other; its public half, `worker.key`, is the server key everyone connects to;
/// - every `*.key` file in the folder is a key that is let in, with the role its file names;
/// - a client presents its own `NAME.key_secret` (the CLI: `client` or `operator`, or `--key`).
public struct KeyRing: Sendable {
    /// The file name (without `.key`) of the cluster's own key.
    public static let clusterKeyName = "worker"

    /// This process's keys and the server key.
    public let curve: CurveSetup
    /// Public key (Z85) → who it is, for every key let in.
    public let known: [String: KeyIdentity]

    /// Loads the folder for a process that presents `NAME.key_secret` (or the secret file at a path).
    /// - Throws: `SecurityError` naming the file at fault.
    public static func load(folder: String, presenting key: String) throws(SecurityError) -> KeyRing {
        var known: [String: KeyIdentity] = [:]
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".key") }.sorted()
        } catch {
            throw SecurityError(path: folder, "cannot read the key folder (security.keys): \(error.localizedDescription)")
        }
        // A folder or key file others may write to would let anyone add an operator key.
        for path in [folder] + names.map({ "\(folder)/\($0)" }) {
            var info = stat()
            if stat(path, &info) == 0, info.st_mode & 0o022 != 0 {
                throw SecurityError(path: path, "others may write to it, so anyone could add a key (mode \(String(info.st_mode & 0o777, radix: 8)); chmod go-w it)")
            }
        }
        var namedIn: [String: String] = [:]
        for name in names {
            let path = "\(folder)/\(name)"
            let file = try KeyFile.read(path)
            if let other = known[file.publicKey] {
                throw SecurityError(path: path, "holds the same public key as the key named \(other.name)")
            }
            if let other = namedIn[file.name] {
                throw SecurityError(path: path, "names its key \(file.name), as \(other) does: key names must differ (they scope request ids)")
            }
            namedIn[file.name] = path
            known[file.publicKey] = KeyIdentity(role: file.role, name: file.name)
        }
        let server = try KeyFile.read("\(folder)/\(clusterKeyName).key")
        guard server.role == .worker else {
            throw SecurityError(path: "\(folder)/\(clusterKeyName).key", "the cluster's key must have role worker, not \(server.role.rawValue)")
        }
        let ownPath = key.contains("/") ? key : "\(folder)/\(key).key_secret"
        let own = try KeyFile.read(ownPath)
        guard let pair = own.pair else { throw SecurityError(path: ownPath, "holds no secret-key: give the .key_secret file") }
        return KeyRing(curve: CurveSetup(own: pair, serverKey: server.publicKey), known: known)
    }

    /// The ZAP handler's answer for a public key: "role/name", or nil for a key not in the folder.
    public var authorize: @Sendable (String) -> String? {
        let known = self.known
        return { known[$0]?.userID }
    }

    /// A context whose sockets all use CURVE with these keys; with `serving`, its ZAP handler lets
    /// in only the folder's keys (call before binding anything).
    /// - Throws: `ZMQError` from libzmq.
    public func context(serving: Bool) throws(ZMQError) -> Context {
        let context = try Context(curve: curve)
        if serving { try context.authenticate(authorize) }
        return context
    }
}

extension KeyRing {
    /// The context for a process given `keysFolder` (`security.keys`; nil: plain sockets).
    /// - Throws: `SecurityError` for unusable keys, or `ZMQError`.
    public static func context(keysFolder: String?, presenting key: String, serving: Bool) throws -> Context {
        guard let keysFolder, !keysFolder.isEmpty else { return try Context() }
        return try load(folder: keysFolder, presenting: key).context(serving: serving)
    }
}
