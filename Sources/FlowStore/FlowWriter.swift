import GRDB
import Flows
import PacketParsing
public import Reporting

/// Writes batches of flows, one transaction per batch, interning executables, processes and
/// hostnames. Used by one thread (the store writer); the interning caches are its own.
public final class FlowWriter {
    public let store: FlowStore
    private var hostnameIDs: [String: Int64] = [:]
    private var executableIDs: [ExecutableKey: Int64] = [:]
    private var processIDs: [ProcessKey: Int64] = [:]
    /// The role each process row holds, as written: a role learned later (a program that called a
    /// model runtime is a chat client from then on) updates the row.
    private var processRoles: [Int64: String] = [:]

    private struct ExecutableKey: Hashable { let path: String; let sha256: String }
    private struct ProcessKey: Hashable { let pid: Int; let startTime: Int64; let executableID: Int64? }

    public init(store: FlowStore) {
        self.store = store
        // The writer's connection keeps up to 16 MiB of pages (SQLite's default is 2 MiB). Flow uids are
        // random, so every batch touches leaves all over the uid index: with the default cache, each
        // commit re-read pages it had just evicted and spent most of its time in pread/pwrite.
        // Checkpoints run every 4,000 pages (16 MiB of WAL) instead of 1,000, so a page that several
        // consecutive batches change is copied into the database file once, not after every batch.
        // Failure only costs speed, so it is not an error.
        try? store.pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA cache_size = -16384; PRAGMA wal_autocheckpoint = 4000")
        }
    }

    /// A flow to write: its row, and whether it is still open (an update) or ended.
    public struct Entry: Sendable {
        public var row: FlowRow
        public var isOpen: Bool
        public var sessionID: Int64?
        public init(row: FlowRow, isOpen: Bool = false, sessionID: Int64? = nil) {
            self.row = row
            self.isOpen = isOpen
            self.sessionID = sessionID
        }
    }

    /// Writes the flows (inserting new ones, updating those written before as open) and the capture
    /// intervals in one transaction. On failure nothing of the batch is written and the caller keeps it.
    public func write(_ entries: [Entry], intervals: [CaptureInterval] = []) throws(StoreError) {
        var newHostnames: [String: Int64] = [:]
        var newExecutables: [ExecutableKey: Int64] = [:]
        var newProcesses: [ProcessKey: Int64] = [:]
        var newRoles: [Int64: String] = [:]
        do {
            try store.pool.write { db in
                let upsert = try db.cachedStatement(sql: """
                    INSERT INTO flows (uid, start, "end", proto, ip_protocol, ip_version, local_addr, local_port,
                        remote_addr, remote_port, direction, scope, bytes_out, bytes_in, packets_out, packets_in,
                        conn_state, history, community_id, icmp_id, hostname_id, name_source, process_id,
                        unattributed_reason, verdict, rule, open, session_id, peer_process_id, attribution_source, seq,
                        content_visibility, prompt_matches)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(uid) DO UPDATE SET
                        start = min(start, excluded.start), "end" = max("end", excluded."end"),
                        bytes_out = excluded.bytes_out, bytes_in = excluded.bytes_in,
                        packets_out = excluded.packets_out, packets_in = excluded.packets_in,
                        conn_state = excluded.conn_state, history = excluded.history,
                        hostname_id = coalesce(excluded.hostname_id, hostname_id),
                        name_source = coalesce(excluded.name_source, name_source),
                        process_id = coalesce(excluded.process_id, process_id),
                        peer_process_id = coalesce(excluded.peer_process_id, peer_process_id),
                        attribution_source = CASE WHEN excluded.process_id IS NOT NULL THEN excluded.attribution_source
                            ELSE attribution_source END,
                        unattributed_reason = CASE WHEN coalesce(excluded.process_id, process_id) IS NULL
                            THEN excluded.unattributed_reason ELSE NULL END,
                        verdict = CASE WHEN verdict = 'alert' THEN verdict ELSE excluded.verdict END,
                        rule = coalesce(excluded.rule, rule), open = excluded.open,
                        session_id = coalesce(excluded.session_id, session_id),
                        seq = coalesce(seq, excluded.seq),
                        content_visibility = coalesce(excluded.content_visibility, content_visibility),
                        prompt_matches = max(coalesce(prompt_matches, 0), coalesce(excluded.prompt_matches, 0))
                    """)
                // The finished order continues from the largest number committed, read inside this write
                // transaction: writers are serialized, so numbers only grow in commit order, whichever
                // process writes (the daemon, `run`, `replay`), and a reader never sees a smaller one later.
                var lastSequence = try Int64.fetchOne(db, sql: "SELECT max(seq) FROM flows") ?? 0
                for entry in entries {
                    let r = entry.row
                    var hostnameID: Int64?
                    if let name = r.hostname {
                        hostnameID = try hostnameIDs[name] ?? newHostnames[name] ?? {
                            let id = try intern(db, table: "hostnames", column: "name", value: name)
                            newHostnames[name] = id
                            return id
                        }()
                    }
                    var processID: Int64?
                    if let p = r.process {
                        processID = try self.processID(db, p, newExecutables: &newExecutables, newProcesses: &newProcesses, newRoles: &newRoles)
                    }
                    var peerID: Int64?
                    if let p = r.peerProcess {
                        peerID = try self.processID(db, p, newExecutables: &newExecutables, newProcesses: &newProcesses, newRoles: &newRoles)
                    }
                    var sequence: Int64?
                    if !entry.isOpen {
                        lastSequence += 1
                        sequence = lastSequence
                    }
                    let values: [(any DatabaseValueConvertible)?] = [
                        r.uid, r.start, r.end, r.proto, Int(r.ipProtocol), r.ipVersion, r.localAddress,
                        r.localPort, r.remoteAddress, r.remotePort, r.direction.rawValue, r.scope.rawValue,
                        r.bytesOut, r.bytesIn, r.packetsOut, r.packetsIn, r.connState, r.history,
                        r.communityID, r.icmpIdentifier, hostnameID, r.nameSource, processID,
                        r.unattributedReason, r.verdict.rawValue, r.rule, entry.isOpen ? 1 : 0, entry.sessionID, peerID,
                        r.attributionSource, sequence, r.content?.visibility, r.content?.promptMatches,
                    ]
                    upsert.setUncheckedArguments(StatementArguments(values))
                    try upsert.execute()
                }
                if !intervals.isEmpty {
                    let insert = try db.cachedStatement(sql: """
                        INSERT INTO capture_stats (time, interval, frames, ip_packets, ip_bytes, damaged, received,
                            dropped, interface_dropped, queue_dropped, event_dropped) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """)
                    for i in intervals {
                        try insert.execute(arguments: [
                            i.time, i.interval, i.frames, i.ipPackets, i.ipBytes, i.damaged, i.received, i.dropped,
                            i.interfaceDropped, i.queueDropped, i.eventDropped,
                        ])
                    }
                }
            }
        } catch {
            throw FlowStore.storeError(error, operation: "write \(entries.count) flows", path: store.path)
        }
        // Only ids from a committed transaction may be reused.
        hostnameIDs.merge(newHostnames) { a, _ in a }
        executableIDs.merge(newExecutables) { a, _ in a }
        processIDs.merge(newProcesses) { a, _ in a }
        if processRoles.count > 100_000 { processRoles.removeAll(keepingCapacity: true) }
        processRoles.merge(newRoles) { _, b in b }
        FlowStore.restrictMode(store.path)
    }

    private func processID(
        _ db: Database, _ p: FlowRow.Process, newExecutables: inout [ExecutableKey: Int64],
        newProcesses: inout [ProcessKey: Int64], newRoles: inout [Int64: String]
    ) throws -> Int64 {
        var executableID: Int64?
        if let exe = p.exe {
            let key = ExecutableKey(path: exe, sha256: p.sha256 ?? "")
            if let known = executableIDs[key] ?? newExecutables[key] {
                executableID = known
            } else {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO executables (path, sha256) VALUES (?, ?)", arguments: [key.path, key.sha256])
                let id = try Int64.fetchOne(
                    db, sql: "SELECT id FROM executables WHERE path = ? AND sha256 = ?", arguments: [key.path, key.sha256])
                executableID = id
                if let id { newExecutables[key] = id }
            }
        }
        let key = ProcessKey(pid: p.pid, startTime: p.startTime ?? 0, executableID: executableID)
        if let known = processIDs[key] ?? newProcesses[key] {
            if let role = p.role, (newRoles[known] ?? processRoles[known]) != role {
                try db.execute(
                    sql: "UPDATE processes SET role = ?, role_source = ? WHERE id = ?", arguments: [role, p.roleSource, known])
                newRoles[known] = role
            }
            return known
        }
        try db.execute(
            sql: """
                INSERT INTO processes (pid, start_time, executable_id, cmdline, comm, uid, user, ppid, parent_exe,
                    unit, container, role, program, program_kind, role_source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (pid, start_time, executable_id) DO UPDATE SET role = coalesce(excluded.role, role),
                    role_source = CASE WHEN excluded.role IS NOT NULL THEN excluded.role_source ELSE role_source END,
                    program = coalesce(program, excluded.program), program_kind = coalesce(program_kind, excluded.program_kind)
                """,
            arguments: [
                p.pid, key.startTime, executableID, p.cmdline, p.comm, p.uid, p.user, p.ppid, p.parentExe, p.unit,
                p.container, p.role, p.program, p.programKind, p.roleSource,
            ])
        let id = try Int64.fetchOne(
            db, sql: "SELECT id FROM processes WHERE pid = ? AND start_time = ? AND executable_id IS ?",
            arguments: [p.pid, key.startTime, executableID]) ?? db.lastInsertedRowID
        newProcesses[key] = id
        if let role = p.role { newRoles[id] = role }
        return id
    }

    private func intern(_ db: Database, table: String, column: String, value: String) throws -> Int64 {
        try db.execute(sql: "INSERT OR IGNORE INTO \(table) (\(column)) VALUES (?)", arguments: [value])
        return try Int64.fetchOne(db, sql: "SELECT id FROM \(table) WHERE \(column) = ?", arguments: [value])
            ?? db.lastInsertedRowID
    }
}
