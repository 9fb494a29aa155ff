public import Reporting
import GRDB
public import Flows
public import PacketParsing
public import Reporting

/// A time range; a flow belongs to it when the two overlap. Nil bounds are open.
public struct TimeWindow: Sendable, Equatable {
    public var from: Int64?
    public var to: Int64?
    public init(from: Int64? = nil, to: Int64? = nil) {
        self.from = from
        self.to = to
    }
}

/// How `report` groups flows.
public enum Grouping: String, Sendable, CaseIterable {
    /// `program` groups by what a person calls the program (two Python programs are two rows);
    /// `process` by executable.
    case program, process, role, destination, flow
}

extension FlowStore {
    static let flowSelect = """
        SELECT f.*, h.name AS hostname, p.pid, p.start_time, p.cmdline, p.comm, p.uid AS puid, p.user, p.ppid,
            p.parent_exe, p.unit, p.container, p.role, p.program, p.program_kind, p.role_source, e.path AS exe, e.sha256,
            q.pid AS peer_pid, q.start_time AS peer_start_time, q.cmdline AS peer_cmdline, q.comm AS peer_comm,
            q.uid AS peer_uid, q.user AS peer_user, q.ppid AS peer_ppid, q.parent_exe AS peer_parent_exe,
            q.unit AS peer_unit, q.container AS peer_container, q.role AS peer_role, q.program AS peer_program,
            q.program_kind AS peer_program_kind, q.role_source AS peer_role_source, qe.path AS peer_exe,
            qe.sha256 AS peer_sha256
        FROM flows f
        LEFT JOIN hostnames h ON h.id = f.hostname_id
        LEFT JOIN processes p ON p.id = f.process_id
        LEFT JOIN executables e ON e.id = p.executable_id
        LEFT JOIN processes q ON q.id = f.peer_process_id
        LEFT JOIN executables qe ON qe.id = q.executable_id
        """

    static func windowClause(_ w: TimeWindow, alias: String = "f") -> (String, StatementArguments) {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let from = w.from { conditions.append("\(alias).\"end\" >= ?"); arguments += [from] }
        if let to = w.to { conditions.append("\(alias).start <= ?"); arguments += [to] }
        return (conditions.isEmpty ? "1" : conditions.joined(separator: " AND "), arguments)
    }

    /// Flows in the window, oldest first; `limit` keeps the newest ones.
    public func flows(in window: TimeWindow, limit: Int? = nil, uid: String? = nil) throws(StoreError) -> [FlowRow] {
        var (clause, arguments) = FlowStore.windowClause(window)
        if let uid { clause += " AND f.uid = ?"; arguments += [uid] }
        var sql = FlowStore.flowSelect + " WHERE \(clause) ORDER BY f.start DESC, f.uid"
        if let limit { sql += " LIMIT \(max(0, limit))" }
        do {
            let rows = try pool.read { db in try Row.fetchAll(db, sql: sql, arguments: arguments) }
            return rows.map(FlowStore.flowRow).reversed()
        } catch {
            throw FlowStore.storeError(error, operation: "read flows", path: path)
        }
    }

    static func flowRow(_ row: Row) -> FlowRow {
        let scope = AddressScope(rawValue: row["scope"] ?? "") ?? .internet
        let direction = FlowDirection(rawValue: row["direction"] ?? "") ?? .outbound
        var r = FlowRow(
            uid: row["uid"], start: row["start"], end: row["end"], proto: row["proto"],
            ipProtocol: UInt8(clamping: row["ip_protocol"] as Int? ?? 0), ipVersion: row["ip_version"],
            localAddress: row["local_addr"], localPort: row["local_port"], remoteAddress: row["remote_addr"],
            remotePort: row["remote_port"], direction: direction, scope: scope, bytesOut: row["bytes_out"],
            bytesIn: row["bytes_in"], packetsOut: row["packets_out"], packetsIn: row["packets_in"],
            connState: row["conn_state"], history: row["history"], communityID: row["community_id"])
        r.icmpIdentifier = row["icmp_id"]
        r.hostname = row["hostname"]
        r.nameSource = row["name_source"]
        r.unattributedReason = row["unattributed_reason"]
        r.verdict = row["verdict"]
        r.rule = row["rule"]
        r.attributionSource = row["attribution_source"]
        r.sequence = row["seq"]
        if let visibility: String = row["content_visibility"] {
            r.content = FlowRow.Content(visibility: visibility, promptMatches: row["prompt_matches"] ?? 0)
        }
        r.process = process(row, prefix: "", uidColumn: "puid")
        r.peerProcess = process(row, prefix: "peer_", uidColumn: "peer_uid")
        return r
    }

    private static func process(_ row: Row, prefix: String, uidColumn: String) -> FlowRow.Process? {
        guard let pid: Int = row[prefix + "pid"] else { return nil }
        var p = FlowRow.Process(pid: pid)
        p.startTime = row[prefix + "start_time"]
        p.exe = row[prefix + "exe"]
        let sha: String? = row[prefix + "sha256"]
        p.sha256 = sha?.isEmpty == false ? sha : nil
        p.cmdline = row[prefix + "cmdline"]
        p.comm = row[prefix + "comm"]
        p.uid = row[uidColumn]
        p.user = row[prefix + "user"]
        p.ppid = row[prefix + "ppid"]
        p.parentExe = row[prefix + "parent_exe"]
        p.unit = row[prefix + "unit"]
        p.container = row[prefix + "container"]
        p.role = row[prefix + "role"]
        p.program = row[prefix + "program"]
        p.programKind = row[prefix + "program_kind"]
        p.roleSource = row[prefix + "role_source"]
        return p
    }

    /// The SQL expression naming a flow's group (flows `f`, hostnames `h`, processes `p`, executables `e`).
    static func groupKey(_ grouping: Grouping) -> String {
        switch grouping {
        case .program:
            "CASE WHEN p.program IS NOT NULL THEN p.program WHEN e.path IS NOT NULL THEN e.path WHEN p.comm IS NOT NULL THEN p.comm "
                + "ELSE '(unattributed: ' || coalesce(f.unattributed_reason, 'no process') || ')' END"
        case .process:
            "CASE WHEN e.path IS NOT NULL THEN e.path WHEN p.comm IS NOT NULL THEN p.comm "
                + "ELSE '(unattributed: ' || coalesce(f.unattributed_reason, 'no process') || ')' END"
        case .role:
            "CASE WHEN p.id IS NULL THEN '(unattributed)' ELSE coalesce(p.role, 'other') END"
        case .destination, .flow:
            "coalesce(h.name, f.remote_addr)"
        }
    }

    /// Each flow of the window as its group, its lifetime and its bytes: what `report --every`
    /// spreads over buckets of time.
    public func spans(by grouping: Grouping, in window: TimeWindow) throws(StoreError) -> [FlowSpan] {
        let (clause, arguments) = FlowStore.windowClause(window)
        let sql = """
            SELECT \(FlowStore.groupKey(grouping)) AS k, f.start, f."end", f.bytes_out, f.bytes_in
            FROM flows f
            LEFT JOIN hostnames h ON h.id = f.hostname_id
            LEFT JOIN processes p ON p.id = f.process_id
            LEFT JOIN executables e ON e.id = p.executable_id
            WHERE \(clause)
            """
        do {
            return try pool.read { db in
                try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                    FlowSpan(key: row["k"] ?? "?", start: row["start"], end: row["end"], bytesOut: row["bytes_out"], bytesIn: row["bytes_in"])
                }
            }
        } catch {
            throw FlowStore.storeError(error, operation: "read flow spans", path: path)
        }
    }

    /// Bytes per destination scope in the window, most first, with the number of destinations.
    public func scopeTotals(in window: TimeWindow) throws(StoreError) -> [(scope: String, bytesOut: Int64, bytesIn: Int64, destinations: Int)] {
        let (clause, arguments) = FlowStore.windowClause(window)
        let sql = """
            SELECT f.scope AS s, sum(f.bytes_out) AS bo, sum(f.bytes_in) AS bi,
                count(DISTINCT coalesce(h.name, f.remote_addr)) AS d
            FROM flows f LEFT JOIN hostnames h ON h.id = f.hostname_id
            WHERE \(clause) GROUP BY f.scope ORDER BY sum(f.bytes_out + f.bytes_in) DESC
            """
        do {
            return try pool.read { db in
                try Row.fetchAll(db, sql: sql, arguments: arguments).map { row -> (scope: String, bytesOut: Int64, bytesIn: Int64, destinations: Int) in
                    let scope: String = row["s"] ?? "?"
                    let bytesOut: Int64 = row["bo"] ?? 0
                    let bytesIn: Int64 = row["bi"] ?? 0
                    let destinations: Int = row["d"] ?? 0
                    return (scope, bytesOut, bytesIn, destinations)
                }
            }
        } catch {
            throw FlowStore.storeError(error, operation: "read scopes", path: path)
        }
    }

    /// The first start and last end of the flows in the window (nil without flows).
    public func extent(in window: TimeWindow) throws(StoreError) -> (first: Int64, last: Int64)? {
        let (clause, arguments) = FlowStore.windowClause(window)
        do {
            return try pool.read { db in
                guard let row = try Row.fetchOne(db, sql: "SELECT min(start) AS a, max(\"end\") AS b FROM flows f WHERE \(clause)", arguments: arguments),
                    let a: Int64 = row["a"], let b: Int64 = row["b"]
                else { return nil }
                return (a, b)
            }
        } catch {
            throw FlowStore.storeError(error, operation: "read extent", path: path)
        }
    }

    /// Flows of the window summed by process, role or destination, most bytes out first.
    public func groups(by grouping: Grouping, in window: TimeWindow) throws(StoreError) -> [FlowGroup] {
        let keyExpression = FlowStore.groupKey(grouping)
        let (clause, arguments) = FlowStore.windowClause(window)
        let sql = """
            WITH w AS (
                SELECT \(keyExpression) AS k, coalesce(h.name, f.remote_addr) AS dest, f.*
                FROM flows f
                LEFT JOIN hostnames h ON h.id = f.hostname_id
                LEFT JOIN processes p ON p.id = f.process_id
                LEFT JOIN executables e ON e.id = p.executable_id
                WHERE \(clause)
            )
            SELECT k, count(*) AS flows, sum(bytes_out) AS bo, sum(bytes_in) AS bi, sum(packets_out) AS po,
                sum(packets_in) AS pi, min(start) AS first, max("end") AS last, count(DISTINCT dest) AS dests,
                sum(verdict = 'alert') AS alerts,
                (SELECT group_concat(scope, ',') FROM (SELECT scope FROM w w2 WHERE w2.k = w.k GROUP BY scope
                    ORDER BY sum(bytes_out + bytes_in) DESC)) AS scopes,
                (SELECT group_concat(dest, ',') FROM (SELECT dest FROM w w3 WHERE w3.k = w.k GROUP BY dest
                    ORDER BY sum(bytes_out) DESC, sum(bytes_in) DESC LIMIT 5)) AS top
            FROM w GROUP BY k ORDER BY bo DESC, bi DESC, k
            """
        do {
            let rows = try pool.read { db in try Row.fetchAll(db, sql: sql, arguments: arguments) }
            return rows.map { row in
                FlowGroup(
                    key: row["k"] ?? "?", flows: row["flows"], bytesOut: row["bo"] ?? 0, bytesIn: row["bi"] ?? 0,
                    packetsOut: row["po"] ?? 0, packetsIn: row["pi"] ?? 0, first: row["first"] ?? 0,
                    last: row["last"] ?? 0, destinations: row["dests"] ?? 0,
                    scopes: (row["scopes"] as String?)?.split(separator: ",").map(String.init) ?? [],
                    topDestinations: (row["top"] as String?)?.split(separator: ",").map(String.init) ?? [],
                    alerts: row["alerts"] ?? 0)
            }
        } catch {
            throw FlowStore.storeError(error, operation: "group flows", path: path)
        }
    }

    /// Attributed share of bytes and capture drops in the window.
    public func coverage(in window: TimeWindow) throws(StoreError) -> Coverage {
        let (clause, arguments) = FlowStore.windowClause(window)
        var statsConditions: [String] = []
        var statsArguments: StatementArguments = []
        if let from = window.from { statsConditions.append("time >= ?"); statsArguments += [from] }
        if let to = window.to { statsConditions.append("time - interval <= ?"); statsArguments += [to] }
        let statsClause = statsConditions.isEmpty ? "1" : statsConditions.joined(separator: " AND ")
        do {
            return try pool.read { db in
                var c = Coverage()
                if let row = try Row.fetchOne(db, sql: """
                    SELECT count(*) AS n, sum(bytes_out + bytes_in) AS b,
                        sum(CASE WHEN process_id IS NOT NULL THEN bytes_out + bytes_in ELSE 0 END) AS a,
                        sum(CASE WHEN attribution_source = 'kernel-events' THEN bytes_out + bytes_in ELSE 0 END) AS k
                    FROM flows f WHERE \(clause)
                    """, arguments: arguments) {
                    c.flows = row["n"] ?? 0
                    c.bytes = row["b"] ?? 0
                    c.attributedBytes = row["a"] ?? 0
                    c.kernelEventBytes = row["k"] ?? 0
                }
                try FlowStore.addCaptureLosses(db, where: statsClause, statsArguments, to: &c)
                return c
            }
        } catch {
            throw FlowStore.storeError(error, operation: "read coverage", path: path)
        }
    }

    /// Adds the capture and socket-event losses of the `capture_stats` rows matching `clause` to `c`.
    static func addCaptureLosses(_ db: Database, where clause: String, _ arguments: StatementArguments, to c: inout Coverage) throws {
        guard let row = try Row.fetchOne(db, sql: """
            SELECT sum(received) AS r, sum(dropped) AS d, sum(interface_dropped) AS i, sum(queue_dropped) AS q,
                sum(event_dropped) AS e
            FROM capture_stats WHERE \(clause)
            """, arguments: arguments) else { return }
        c.received = row["r"] ?? 0
        c.dropped = row["d"] ?? 0
        c.interfaceDropped = row["i"] ?? 0
        c.queueDropped = row["q"] ?? 0
        c.eventDropped = row["e"] ?? 0
    }
}
