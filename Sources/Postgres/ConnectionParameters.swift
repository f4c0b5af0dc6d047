/// Settings for a connection, passed to libpq as key/value pairs (`PQconnectdbParams`), never
/// concatenated into a string. A nil field is left out, so libpq falls back to its usual
/// environment variables (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD) and ~/.pgpass.
public struct ConnectionParameters: Sendable, Equatable {
    public var host: String?
    public var port: Int?
    public var user: String?
    public var database: String?
    public var password: String?
    /// Seconds libpq waits for the server to answer a connection attempt.
    public var connectTimeoutSeconds: Int?
    /// Shown in `pg_stat_activity`, so an operator can tell our connections apart.
    public var applicationName: String?
    /// How long sent data may stay unacknowledged before the connection counts as broken
    /// (libpq `tcp_user_timeout`): a cut network then fails calls instead of hanging them.
    public var tcpUserTimeoutMilliseconds: Int?
    /// libpq's sslmode (nil: libpq's default, or PGSSLMODE).
    public var sslmode: String?
    /// Server settings for this session (libpq `options`, `-c name=value`), e.g.
    /// `idle_in_transaction_session_timeout`. Names and values are ours, never a user's: a value
    /// with a space or a backslash is refused by `keywords` (libpq would split it).
    public var serverSettings: [String: String] = [:]

    public init(
        host: String? = nil, port: Int? = nil, user: String? = nil, database: String? = nil,
        password: String? = nil, connectTimeoutSeconds: Int? = 5, applicationName: String? = "cellcluster",
        sslmode: String? = nil
    ) {
        self.sslmode = sslmode
        self.host = host
        self.port = port
        self.user = user
        self.database = database
        self.password = password
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.applicationName = applicationName
    }

    /// The key/value pairs libpq receives, in a stable order.
    public var keywords: [(String, String)] {
        var pairs: [(String, String)] = []
        if let host { pairs.append(("host", host)) }
        if let port { pairs.append(("port", String(port))) }
        if let user { pairs.append(("user", user)) }
        if let database { pairs.append(("dbname", database)) }
        if let password { pairs.append(("password", password)) }
        if let connectTimeoutSeconds { pairs.append(("connect_timeout", String(connectTimeoutSeconds))) }
        if let applicationName { pairs.append(("application_name", applicationName)) }
        if let sslmode { pairs.append(("sslmode", sslmode)) }
        let settings = serverSettings.sorted { $0.key < $1.key }.filter { !"\($0.key)\($0.value)".contains(where: { $0 == " " || $0 == "\\" }) }
        if !settings.isEmpty { pairs.append(("options", settings.map { "-c \($0.key)=\($0.value)" }.joined(separator: " "))) }
        if let tcpUserTimeoutMilliseconds {
            pairs.append(("tcp_user_timeout", String(tcpUserTimeoutMilliseconds)))
            pairs.append(("keepalives_idle", "1"))
            pairs.append(("keepalives_interval", "1"))
            pairs.append(("keepalives_count", "3"))
        }
        return pairs
    }

    /// Where this connects, for messages: `host:port/database`, never the password.
    public var redacted: String {
        "\(host ?? "$PGHOST")\(port.map { ":\($0)" } ?? "")/\(database ?? "$PGDATABASE")"
    }
}
