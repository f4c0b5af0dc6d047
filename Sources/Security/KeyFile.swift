import Foundation
import ZeroMQ

/// One CURVE key as CellCluster stores it: `NAME.key` holds the public half and the role, and may be
/// copied anywhere; `NAME.key_secret` holds both halves and is mode 0600. Both are text:
///
///     # CellCluster CURVE key
///     name = alice
///     role = client
///     public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
///     secret-key = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"   (secret file only)
public struct KeyFile: Sendable, Equatable {
    public let name: String
    public let role: Role
    public let publicKey: String
    /// Only in a secret file.
    public let secretKey: String?

    public init(name: String, role: Role, publicKey: String, secretKey: String?) {
        self.name = name
        self.role = role
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// A new key pair for `name`.
    /// - Throws: `SecurityError` for a name that is not 1–64 of `A–Z a–z 0–9 . _ -`, or a libzmq without CURVE.
    public static func generate(name: String, role: Role) throws(SecurityError) -> KeyFile {
        if let problem = nameProblem(name) { throw SecurityError(path: name, problem) }
        do {
            let pair = try CurveKeyPair.generate()
            return KeyFile(name: name, role: role, publicKey: pair.publicKey, secretKey: pair.secretKey)
        } catch {
            throw SecurityError(path: name, "cannot make a CURVE key pair: \(error)")
        }
    }

    static func nameProblem(_ name: String) -> String? {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-".utf8)
        guard (1...64).contains(name.utf8.count), name.utf8.allSatisfy(allowed.contains), !name.hasPrefix(".") else {
            return "a key name is 1 to 64 of A-Z a-z 0-9 . _ - (not starting with a dot), got \"\(name)\""
        }
        return nil
    }

    /// The key pair, for a secret file.
    public var pair: CurveKeyPair? { secretKey.map { CurveKeyPair(publicKey: publicKey, secretKey: $0) } }

    /// The public file's text.
    public var publicText: String { text(secret: false) }
    /// The secret file's text.
    public var secretText: String { text(secret: true) }

    private func text(secret: Bool) -> String {
        var lines = [
            secret ? "# CellCluster CURVE key pair: keep it secret (mode 0600)." : "# CellCluster CURVE public key: a process whose key folder holds this file lets the key in.",
            "name = \(name)", "role = \(role.rawValue)", "public-key = \"\(publicKey)\"",
        ]
        if secret, let secretKey { lines.append("secret-key = \"\(secretKey)\"") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Reads a key file's text.
    /// - Throws: `SecurityError` naming the line or field at fault.
    public static func parse(_ text: String, path: String) throws(SecurityError) -> KeyFile {
        var fields: [String: String] = [:]
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else { throw SecurityError(path: path, "line \(number + 1): expected key = value") }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            fields[key] = value
        }
        guard let name = fields["name"], nameProblem(name) == nil else { throw SecurityError(path: path, "no valid name = … line") }
        guard let roleText = fields["role"], let role = Role(rawValue: roleText) else {
            throw SecurityError(path: path, "role must be one of \(Role.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(fields["role"] ?? "")\"")
        }
        guard let publicKey = fields["public-key"], CurveKeyPair.isValidKey(publicKey) else {
            throw SecurityError(path: path, "public-key must be a 40-character Z85 CURVE key")
        }
        if let secret = fields["secret-key"], !CurveKeyPair.isValidKey(secret) {
            throw SecurityError(path: path, "secret-key must be a 40-character Z85 CURVE key")
        }
        return KeyFile(name: name, role: role, publicKey: publicKey, secretKey: fields["secret-key"])
    }

    /// Reads a key file; a secret file must be readable by its owner alone.
    /// - Throws: `SecurityError` for a missing, unreadable, malformed or (secret) group- or world-readable file.
    public static func read(_ path: String) throws(SecurityError) -> KeyFile {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw SecurityError(path: path, FileManager.default.fileExists(atPath: path) ? "cannot read the key file" : "no such key file")
        }
        let key = try parse(text, path: path)
        if key.secretKey != nil {
            var info = stat()
            if stat(path, &info) == 0, info.st_mode & 0o077 != 0 {
                throw SecurityError(path: path, "a secret key file must be readable by its owner alone (mode \(String(info.st_mode & 0o777, radix: 8)); chmod 600 it)")
            }
        }
        return key
    }

    /// Writes `folder/NAME.key` (0644) and `folder/NAME.key_secret` (0600), creating the folder (0700).
    /// - Throws: `SecurityError` when either file exists already (unless `replace`) or cannot be written.
    public func write(to folder: String, replace: Bool = false) throws(SecurityError) {
        let manager = FileManager.default
        do {
            try manager.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw SecurityError(path: folder, "cannot create the key folder: \(error.localizedDescription)")
        }
        var info = stat()
        if stat(folder, &info) == 0, info.st_mode & 0o022 != 0 {
            throw SecurityError(path: folder, "a key folder others may write to lets anyone add a key (mode \(String(info.st_mode & 0o777, radix: 8)); chmod 700 it)")
        }
        let publicPath = "\(folder)/\(name).key", secretPath = "\(folder)/\(name).key_secret"
        if !replace {
            for path in [publicPath, secretPath] where manager.fileExists(atPath: path) {
                throw SecurityError(path: path, "exists already (pass --force to replace it)")
            }
        }
        for (path, text, mode) in [(secretPath, secretText, mode_t(0o600)), (publicPath, publicText, mode_t(0o644))] {
            try? manager.removeItem(atPath: path)
            try Self.create(path, text, mode: mode)
        }
    }

    /// Creates a new file with `mode` from the start (O_EXCL: never through a link or over a file
    /// someone else made meanwhile), then writes it: a secret is never readable by others.
    private static func create(_ path: String, _ text: String, mode: mode_t) throws(SecurityError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SecurityError(path: path, "cannot create the key file: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        fchmod(fd, mode)  // the umask may have taken bits from a public file's 0644
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            throw SecurityError(path: path, "cannot write the key file: \(String(cString: strerror(errno)))")
        }
    }
}
