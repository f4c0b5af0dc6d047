extension ClusterSettings {
    /// Reads every section, recording problems instead of stopping at the first.
    static func decode(_ tree: ConfigNode, problems: ProblemList) -> ClusterSettings {
        let root = Section(path: "", node: tree, problems: problems)
        var settings = ClusterSettings()
        settings.world = .init(root.section("world"))
        settings.coordinator = .init(root.section("coordinator"))
        settings.workers = .init(root.section("workers"))
        settings.postgres = .init(root.section("postgres"))
        settings.checkpoint = .init(root.section("checkpoint"))
        settings.cache = .init(root.section("cache"))
        settings.events = .init(root.section("events"))
        settings.leases = .init(root.section("leases"))
        settings.rebalance = .init(root.section("rebalance"))
        settings.limits = .init(root.section("limits"))
        settings.security = .init(root.section("security"))
        settings.metrics = .init(root.section("metrics"))
        root.finish()
        return settings
    }
}

/// Checks a ZeroMQ endpoint: `tcp://host:port`, `ipc://path` or `inproc://name`.
func endpointProblem(_ text: String) -> String? {
    if text.hasPrefix("ipc://") || text.hasPrefix("inproc://") { return text.count > 8 ? nil : "names no path" }
    guard text.hasPrefix("tcp://") else {
        return "expected tcp://host:port, ipc://path or inproc://name, got \"\(text)\""
    }
    let rest = text.dropFirst("tcp://".count)
    guard let colon = rest.lastIndex(of: ":"), colon != rest.startIndex, !rest[rest.index(after: colon)...].isEmpty else {
        return "expected tcp://host:port with a port from 0 to 65535 (or a range FIRST-LAST), got \"\(text)\""
    }
    return PortRange.problem(rest[rest.index(after: colon)...]).map { "\($0) in \"\(text)\"" }
}

extension WorldSettings {
    init(_ s: Section) {
        width = s.double("width", default: width, above: 0)
        height = s.double("height", default: height, above: 0)
        cellSize = s.double("cell_size", default: cellSize, above: 0)
        if cellSize > min(width, height) {
            s.problem("cell_size", "must not exceed the world's width and height (\(min(width, height).formattedForMessage))")
        } else if Double(columns) * Double(rows) > Double(Int32.max) {
            s.problem("cell_size", "makes \(columns) x \(rows) cells; at most \(Int32.max) are allowed")
        }
        s.finish()
    }
}

extension CoordinatorSettings {
    init(_ s: Section) {
        endpoint = s.string("endpoint", default: endpoint, check: endpointProblem)
        feed = s.string("feed", default: feed, check: { $0.isEmpty ? nil : endpointProblem($0) })
        standby = s.string("standby", default: standby, check: { $0.isEmpty ? nil : endpointProblem($0) })
        leaseMs = s.int("lease_ms", default: leaseMs, in: 100...600_000)
        if !standby.isEmpty && standby == endpoint { s.problem("standby", "must differ from coordinator.endpoint (\(endpoint))") }
        advertise = s.advertise(default: advertise, bind: endpoint, bindKey: "coordinator.endpoint",
                                example: "the address workers and clients reach it at, e.g. tcp://10.0.0.1")
        s.finish()
    }
}

extension WorkerSettings {
    init(_ s: Section) {
        count = s.int("count", default: count, in: 1...256)
        bind = s.string("bind", default: bind, check: endpointProblem)
        advertise = s.advertise(default: advertise, bind: bind, bindKey: "workers.bind",
                                example: "the address peers and clients reach the workers at, e.g. tcp://10.0.0.5")
        s.finish()
    }
}

extension MetricsSettings {
    init(_ s: Section) {
        listen = s.string("listen", default: listen) { listenProblem($0) }
        summaryIntervalS = s.int("summary_interval_s", default: summaryIntervalS, in: 0...86_400)
        s.finish()
    }
}

extension Section {
    /// The section's `advertise` key: `tcp://host[:port]`, never a wildcard; required when
    /// `bind` (the section's `bindKey`) is a wildcard.
    func advertise(default value: String, bind: String, bindKey: String, example: String) -> String {
        var refused = false
        let advertise = string("advertise", default: value) { text in
            let problem = WorkerSettings.advertiseProblem(text)
            refused = problem != nil
            return problem
        }
        if advertise.isEmpty && !refused && WorkerSettings.isWildcard(bind) {
            problem("advertise", "is required when \(bindKey) is a wildcard (\(bind)): give \(example)")
        }
        return advertise
    }
}

/// Checks an HTTP listen address: `host:port` (an IPv6 host in brackets), or `none`.
func listenProblem(_ text: String) -> String? {
    if text == "none" || text.isEmpty { return nil }
    guard let colon = text.lastIndex(of: ":"), colon != text.startIndex, !text[text.index(after: colon)...].isEmpty else {
        return "expected host:port (port 0: a free port; FIRST-LAST: the first free one) or none, got \"\(text)\""
    }
    if let problem = PortRange.problem(text[text.index(after: colon)...]) { return "\(problem) in \"\(text)\"" }
    let host = text[..<colon]
    if host.contains(":") && !(host.hasPrefix("[") && host.hasSuffix("]")) {
        return "an IPv6 host goes in brackets ([::1]:9100), got \"\(text)\""
    }
    return nil
}

extension SecuritySettings {
    init(_ s: Section) {
        keys = s.string("keys", default: keys)
        s.finish()
    }
}

extension PostgresSettings {
    /// The values libpq takes for sslmode.
    static let sslmodes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]

    init(_ s: Section) {
        host = s.string("host", default: host) { $0.isEmpty ? "must not be empty" : nil }
        port = s.int("port", default: port, in: 1...65535)
        user = s.string("user", default: user) { $0.isEmpty ? "must not be empty" : nil }
        database = s.string("database", default: database) { $0.isEmpty ? "must not be empty" : nil }
        connectTimeoutSeconds = s.int("connect_timeout_seconds", default: connectTimeoutSeconds, in: 1...600)
        sslmode = s.string("sslmode", default: sslmode) {
            Self.sslmodes.contains($0) ? nil : "expected one of \(Self.sslmodes.joined(separator: ", ")), got \"\($0)\""
        }
        if s.has("password") {
            s.problem("password", "a password never sits in cluster.yml: set PGPASSWORD or use ~/.pgpass")
        }
        s.finish()
    }
}

extension CheckpointSettings {
    init(_ s: Section) {
        mode = s.choice("mode", default: mode)
        intervalMs = s.int("interval_ms", default: intervalMs, in: 10...3_600_000)
        batchSize = s.int("batch_size", default: batchSize, in: 1...100_000)
        earlyFlushBatches = s.int("early_flush_batches", default: earlyFlushBatches, in: 1...10_000)
        maxRows = s.int("max_rows", default: maxRows, in: 1...100_000_000)
        sliceRows = s.int("slice_rows", default: sliceRows, in: 0...100_000_000)
        maxUnsavedChanges = s.int("max_unsaved_changes", default: maxUnsavedChanges, in: 1...1_000_000_000)
        retryInitialMs = s.int("retry_initial_ms", default: retryInitialMs, in: 1...600_000)
        retryMaxMs = s.int("retry_max_ms", default: retryMaxMs, in: 1...3_600_000)
        shutdownDeadlineMs = s.int("shutdown_deadline_ms", default: shutdownDeadlineMs, in: 100...3_600_000)
        durableWindowMs = s.int("durable_window_ms", default: durableWindowMs, in: 0...10_000)
        durableGroup = s.int("durable_group", default: durableGroup, in: 0...1_000_000)
        maxLossWindowMs = s.int("max_loss_window_ms", default: 2 * intervalMs, in: 0...86_400_000)
        if maxLossWindowMs > 0 && maxLossWindowMs <= intervalMs {
            s.problem("max_loss_window_ms", "must be above interval_ms (\(intervalMs)), or 0 for no bound")
        }
        if retryMaxMs < retryInitialMs {
            s.problem("retry_max_ms", "must be at least retry_initial_ms (\(retryInitialMs))")
        }
        if maxUnsavedChanges < batchSize {
            s.problem("max_unsaved_changes", "must be at least batch_size (\(batchSize))")
        }
        s.finish()
    }
}

extension CacheSettings {
    init(_ s: Section) {
        policies = s.choices("policies", default: policies)
        maxActiveCells = s.int("max_active_cells", default: maxActiveCells, in: 1...100_000_000)
        ttlSeconds = s.int("ttl_seconds", default: ttlSeconds, in: 1...31_536_000)
        maxEntities = s.int("max_entities", default: maxEntities, in: 1...1_000_000_000)
        activeRadius = s.int("active_radius", default: activeRadius, in: 0...64)
        hysteresisMs = s.int("hysteresis_ms", default: hysteresisMs, in: 0...3_600_000)
        presenceTimeoutMs = s.int("presence_timeout_ms", default: presenceTimeoutMs, in: 100...86_400_000)
        s.finish()
    }
}

extension EventSettings {
    init(_ s: Section) {
        queueLimit = s.int("queue_limit", default: queueLimit, in: 1...10_000_000)
        requestRetentionSeconds = s.int("request_retention_s", default: requestRetentionSeconds, in: 1...604_800)
        let classes = s.section("durability")
        for kind in EventKind.allCases {
            durability[kind] = classes.choice(kind.rawValue, default: durability[kind] ?? .checkpointed)
        }
        classes.finish()
        s.finish()
    }
}

extension LeaseSettings {
    init(_ s: Section) {
        heartbeatMs = s.int("heartbeat_ms", default: heartbeatMs, in: 10...600_000)
        leaseMs = s.int("lease_ms", default: leaseMs, in: 50...3_600_000)
        if heartbeatMs * 2 > leaseMs {
            s.problem("heartbeat_ms", "must be at most half of lease_ms (\(leaseMs)) so a lease survives one lost heartbeat")
        }
        s.finish()
    }
}

extension RebalanceSettings {
    init(_ s: Section) {
        intervalMs = s.int("interval_ms", default: intervalMs, in: 10...3_600_000)
        maxCellsPerRound = s.int("max_cells_per_round", default: maxCellsPerRound, in: 1...10_000_000)
        catchUpCellsPerRound = s.int("catch_up_cells_per_round", default: catchUpCellsPerRound, in: 0...10_000_000)
        threshold = s.double("threshold", default: threshold, above: 1)
        s.finish()
    }
}

extension LimitSettings {
    init(_ s: Section) {
        maxFrameBytes = s.int("max_frame_bytes", default: maxFrameBytes, in: 4096...268_435_456)
        maxStatsPerEntity = s.int("max_stats_per_entity", default: maxStatsPerEntity, in: 1...100_000)
        maxKeyBytes = s.int("max_key_bytes", default: maxKeyBytes, in: 1...65_536)
        maxValueBytes = s.int("max_value_bytes", default: maxValueBytes, in: 1...16_777_216)
        maxEventPayloadBytes = s.int("max_event_payload_bytes", default: maxEventPayloadBytes, in: 0...16_777_216)
        maxCellStateKeys = s.int("max_cell_state_keys", default: maxCellStateKeys, in: 1...1_000_000)
        maxBatchRequests = s.int("max_batch_requests", default: maxBatchRequests, in: 1...1_000_000)
        if maxEventPayloadBytes + maxKeyBytes + 1024 > maxFrameBytes {
            s.problem("max_event_payload_bytes", "plus max_key_bytes and 1024 bytes of envelope must fit in max_frame_bytes (\(maxFrameBytes))")
        }
        s.finish()
    }
}
