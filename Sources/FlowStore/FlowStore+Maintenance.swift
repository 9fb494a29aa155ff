import GRDB

/// What the daemon last said about itself, read by `telltale status`.
public struct DaemonState: Sendable, Equatable {
    public var pid: Int
    public var started: Int64
    public var heartbeat: Int64
    public var interfaces: String
    public var frames: Int64
    public var dropped: Int64
    public var flows: Int64
    /// `ok`, or why flows are not being written (`disk full: …`).
    public var storeState: String
    /// How flows are attributed: `kernel-events`, or `polling (why the events are not in use)`.
    public var attribution = ""
    /// Socket events the kernel dropped since the daemon started.
    public var eventDropped: Int64 = 0
    /// Content inspection: `off`, or what it reads (`wire and TLS plaintext`, `wire plaintext only (why)`).
    public var content = "off"
    /// Payload bytes content inspection could not read since the daemon started (`content_dropped`).
    public var contentDropped: Int64 = 0

    public init(
        pid: Int, started: Int64, heartbeat: Int64, interfaces: String, frames: Int64, dropped: Int64, flows: Int64,
        storeState: String, attribution: String = "", eventDropped: Int64 = 0
    ) {
        self.attribution = attribution
        self.eventDropped = eventDropped
        self.pid = pid
        self.started = started
        self.heartbeat = heartbeat
        self.interfaces = interfaces
        self.frames = frames
        self.dropped = dropped
        self.flows = flows
        self.storeState = storeState
    }
}

extension FlowStore {
    /// Deletes ended flows older than `maxAge`, then the oldest flows until the file fits `maxBytes`.
    /// Returns the number of flows deleted.
    @discardableResult
    public func applyRetention(maxAge: Int64?, maxBytes: Int64?, now: Int64) throws(StoreError) -> Int {
        var deleted = 0
        do {
            if let maxAge {
                let cutoff = now - maxAge
                try pool.write { db in
                    try db.execute(sql: "DELETE FROM flows WHERE \"end\" < ? AND open = 0", arguments: [cutoff])
                    deleted += db.changesCount
                    try db.execute(sql: "DELETE FROM capture_stats WHERE time < ?", arguments: [cutoff])
                }
            }
            if let maxBytes {
                var rounds = 0
                while fileSize > maxBytes && rounds < 20 {
                    rounds += 1
                    let removed = try pool.write { db -> Int in
                        let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM flows") ?? 0
                        guard total > 0 else { return 0 }
                        try db.execute(sql: """
                            DELETE FROM flows WHERE uid IN (SELECT uid FROM flows ORDER BY "end" LIMIT ?)
                            """, arguments: [max(1, total / 10)])
                        let count = db.changesCount
                        try db.execute(sql: """
                            DELETE FROM capture_stats WHERE time < (SELECT coalesce(min(start), 0) FROM flows)
                            """)
                        return count
                    }
                    deleted += removed
                    try pool.writeWithoutTransaction { db in
                        try db.execute(sql: "PRAGMA incremental_vacuum")
                        try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
                    }
                    if removed == 0 { break }
                }
            }
            if deleted > 0 {
                try pool.write { db in
                    try db.execute(sql: """
                        DELETE FROM hostnames WHERE id NOT IN (SELECT hostname_id FROM flows WHERE hostname_id IS NOT NULL);
                        DELETE FROM processes WHERE id NOT IN (SELECT process_id FROM flows WHERE process_id IS NOT NULL);
                        DELETE FROM executables WHERE id NOT IN (SELECT executable_id FROM processes WHERE executable_id IS NOT NULL);
                        """)
                }
            }
        } catch {
            throw FlowStore.storeError(error, operation: "apply retention", path: path)
        }
        return deleted
    }

    /// Records the daemon's own state (one row).
    public func saveDaemonState(_ s: DaemonState) throws(StoreError) {
        do {
            try pool.write { db in
                try db.execute(sql: """
                    INSERT INTO daemon_state (id, pid, started, heartbeat, interfaces, frames, dropped, flows, store_state,
                        attribution, event_dropped, content, content_dropped)
                    VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET pid = excluded.pid, started = excluded.started,
                        heartbeat = excluded.heartbeat, interfaces = excluded.interfaces, frames = excluded.frames,
                        dropped = excluded.dropped, flows = excluded.flows, store_state = excluded.store_state,
                        attribution = excluded.attribution, event_dropped = excluded.event_dropped,
                        content = excluded.content, content_dropped = excluded.content_dropped
                    """, arguments: [
                        s.pid, s.started, s.heartbeat, s.interfaces, s.frames, s.dropped, s.flows, s.storeState,
                        s.attribution, s.eventDropped, s.content, s.contentDropped,
                    ])
            }
        } catch {
            throw FlowStore.storeError(error, operation: "save daemon state", path: path)
        }
    }

    public func daemonState() throws(StoreError) -> DaemonState? {
        do {
            return try pool.read { db in
                guard let row = try Row.fetchOne(db, sql: "SELECT * FROM daemon_state WHERE id = 1") else { return nil }
                var state = DaemonState(
                    pid: row["pid"], started: row["started"], heartbeat: row["heartbeat"], interfaces: row["interfaces"],
                    frames: row["frames"], dropped: row["dropped"], flows: row["flows"], storeState: row["store_state"])
                state.attribution = row["attribution"] ?? ""
                state.eventDropped = row["event_dropped"] ?? 0
                state.content = row["content"] ?? "off"
                state.contentDropped = row["content_dropped"] ?? 0
                return state
            }
        } catch {
            throw FlowStore.storeError(error, operation: "read daemon state", path: path)
        }
    }

    /// The number of flows stored.
    public func flowCount() throws(StoreError) -> Int {
        do {
            return try pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM flows") ?? 0 }
        } catch {
            throw FlowStore.storeError(error, operation: "count flows", path: path)
        }
    }
}

extension FlowStore {
    /// Records an observed run (`run`, `infer`) and returns its id, for its flows' `session_id`.
    public func insertSession(kind: String, command: String, start: Int64, end: Int64, verdict: String, report: String) throws(StoreError) -> Int64 {
        do {
            return try pool.write { db in
                try db.execute(
                    sql: "INSERT INTO sessions (kind, command, start, \"end\", verdict, report) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [kind, command, start, end, verdict, report])
                return db.lastInsertedRowID
            }
        } catch {
            throw FlowStore.storeError(error, operation: "record the session", path: path)
        }
    }
}

/// An observed run (`run`, `infer`) recorded in the database.
public struct SessionSummary: Sendable, Equatable {
    public var id: Int64
    public var kind: String
    public var command: String
    public var start: Int64
    public var end: Int64?
    public var verdict: String?
    public var flows: Int
}

extension FlowStore {
    /// The observed runs that overlap the window, oldest first, with the number of flows tagged with each.
    public func sessions(in window: TimeWindow) throws(StoreError) -> [SessionSummary] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let from = window.from { conditions.append("coalesce(s.\"end\", s.start) >= ?"); arguments += [from] }
        if let to = window.to { conditions.append("s.start <= ?"); arguments += [to] }
        let clause = conditions.isEmpty ? "1" : conditions.joined(separator: " AND ")
        do {
            return try pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT s.id, s.kind, s.command, s.start, s."end", s.verdict,
                        (SELECT count(*) FROM flows f WHERE f.session_id = s.id) AS flows
                    FROM sessions s WHERE \(clause) ORDER BY s.start
                    """, arguments: arguments).map { row in
                    SessionSummary(
                        id: row["id"], kind: row["kind"], command: row["command"], start: row["start"], end: row["end"],
                        verdict: row["verdict"], flows: row["flows"])
                }
            }
        } catch {
            throw FlowStore.storeError(error, operation: "read sessions", path: path)
        }
    }
}
