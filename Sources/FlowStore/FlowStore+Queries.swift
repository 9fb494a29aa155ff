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
        r.verdict = Verdict(rawValue: row["verdict"] ?? "") ?? .unrated
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
    /// spreads over buckets of time. Handed to `body` one at a time as they are read, so memory
    /// follows what `body` keeps, not the window.
    public func forEachSpan(by grouping: Grouping, in window: TimeWindow, _ body: (FlowSpan) -> Void) throws(StoreError) {
        let (clause, arguments) = FlowStore.windowClause(window)
        do {
            try pool.read { db in
                // Each process's (or name's) key once, not once a flow: names may be long.
                var keys: [Int64: String] = [:]
                if grouping == .destination {
                    let names = try Row.fetchCursor(db, sql: "SELECT id, substr(name, 1, \(FlowStore.keyLimit)) AS k FROM hostnames")
                    while let row = try names.next() { keys[row["id"]] = row["k"] }
                } else {
                    let processes = try Row.fetchCursor(db, sql: """
                        SELECT p.id AS id, substr(\(FlowStore.groupKey(grouping)), 1, \(FlowStore.keyLimit)) AS k
                        FROM processes p LEFT JOIN executables e ON e.id = p.executable_id,
                            (SELECT NULL AS unattributed_reason, NULL AS remote_addr) f
                        """)
                    while let row = try processes.next() { keys[row["id"]] = row["k"] }
                }
                let cursor = try Row.fetchCursor(db, sql: """
                    SELECT f.process_id AS pid, f.hostname_id AS hid, f.unattributed_reason AS reason, f.remote_addr AS addr,
                        f.start, f."end", f.bytes_out, f.bytes_in
                    FROM flows f WHERE \(clause)
                    """, arguments: arguments)
                while let row = try cursor.next() {
                    let key: String
                    if grouping == .destination {
                        key = (row["hid"] as Int64?).flatMap { keys[$0] } ?? row["addr"] ?? "?"
                    } else if let pid: Int64 = row["pid"], let known = keys[pid] {
                        key = known
                    } else {
                        key = grouping == .role ? "(unattributed)" : "(unattributed: \(row["reason"] as String? ?? "no process"))"
                    }
                    body(FlowSpan(key: key, start: row["start"], end: row["end"], bytesOut: row["bytes_out"], bytesIn: row["bytes_in"]))
                }
            }
        } catch {
            throw FlowStore.storeError(error, operation: "read flow spans", path: path)
        }
    }

    /// Every flow of the window, oldest first, handed to `body` as it is read (a learning period
    /// over a million flows holds one at a time).
    public func forEachFlow(in window: TimeWindow, _ body: (FlowRow) throws -> Void) throws {
        let (clause, arguments) = FlowStore.windowClause(window)
        let sql = FlowStore.flowSelect + " WHERE \(clause) ORDER BY f.start, f.uid DESC"
        do {
            try pool.read { db in
                let cursor = try Row.fetchCursor(db, sql: sql, arguments: arguments)
                while let row = try cursor.next() { try body(FlowStore.flowRow(row)) }
            }
        } catch let error as DatabaseError {
            throw FlowStore.storeError(error, operation: "read flows", path: path)
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

    /// The longest group key and destination a report carries: a name of thousands of characters
    /// (a hostile SNI, a padded path) is cut here, so memory follows the number of groups.
    static let keyLimit = 1_024

    /// Flows of the window summed by process, role or destination, most bytes out first.
    ///
    /// One pass over the window in SQL, summed by group, destination and scope; the groups, their
    /// scopes and top destinations are folded from those sums as they stream in, so memory follows
    /// the distinct (group, destination) pairs, never the flows.
    public func groups(by grouping: Grouping, in window: TimeWindow) throws(StoreError) -> [FlowGroup] {
        let keyExpression = FlowStore.groupKey(grouping)
        let (clause, arguments) = FlowStore.windowClause(window, alias: "w")
        // The other side of each group: its destinations, or for a destination its programs.
        let relatedExpression = grouping == .destination ? FlowStore.groupKey(.program) : "coalesce(h.name, f.remote_addr)"
        // Summed first by process, name and address (integers and short text): the names, which a
        // hostile program or SNI can make thousands of characters long, are joined to the sums.
        let sql = """
            WITH f AS (
                SELECT w.process_id, w.unattributed_reason, w.hostname_id,
                    CASE WHEN w.hostname_id IS NULL THEN w.remote_addr END AS remote_addr, w.scope,
                    count(*) AS n, sum(w.bytes_out) AS bo, sum(w.bytes_in) AS bi, sum(w.packets_out) AS po,
                    sum(w.packets_in) AS pi, min(w.start) AS first, max(w."end") AS last, sum(w.verdict = 'alert') AS alerts
                FROM flows w
                WHERE \(clause)
                GROUP BY w.process_id, w.unattributed_reason, w.hostname_id, 4, w.scope
            )
            SELECT substr(\(keyExpression), 1, \(FlowStore.keyLimit)) AS k,
                substr(\(relatedExpression), 1, \(FlowStore.keyLimit)) AS dest, f.scope AS scope,
                sum(f.n) AS flows, sum(f.bo) AS bo, sum(f.bi) AS bi, sum(f.po) AS po, sum(f.pi) AS pi,
                min(f.first) AS first, max(f.last) AS last, sum(f.alerts) AS alerts
            FROM f
            LEFT JOIN hostnames h ON h.id = f.hostname_id
            LEFT JOIN processes p ON p.id = f.process_id
            LEFT JOIN executables e ON e.id = p.executable_id
            GROUP BY k, dest, scope
            """
        struct Fold {
            var group: FlowGroup
            var scopes: [String: Int64] = [:]
            var destinations: [String: (out: Int64, in: Int64)] = [:]
        }
        var folds: [String: Fold] = [:]
        do {
            try pool.read { db in
                let cursor = try Row.fetchCursor(db, sql: sql, arguments: arguments)
                while let row = try cursor.next() {
                    let key: String = row["k"] ?? "?", dest: String = row["dest"] ?? "?", scope: String = row["scope"] ?? "?"
                    let bo: Int64 = row["bo"] ?? 0, bi: Int64 = row["bi"] ?? 0
                    var fold = folds[key] ?? Fold(group: FlowGroup(
                        key: key, flows: 0, bytesOut: 0, bytesIn: 0, packetsOut: 0, packetsIn: 0, first: .max, last: .min,
                        destinations: 0, scopes: [], topDestinations: [], alerts: 0))
                    fold.group.flows += row["flows"] ?? 0
                    fold.group.bytesOut += bo
                    fold.group.bytesIn += bi
                    fold.group.packetsOut += row["po"] ?? 0
                    fold.group.packetsIn += row["pi"] ?? 0
                    fold.group.first = min(fold.group.first, row["first"] ?? 0)
                    fold.group.last = max(fold.group.last, row["last"] ?? 0)
                    fold.group.alerts += row["alerts"] ?? 0
                    fold.scopes[scope, default: 0] += bo + bi
                    let d = fold.destinations[dest] ?? (0, 0)
                    fold.destinations[dest] = (d.out + bo, d.in + bi)
                    folds[key] = fold
                }
            }
        } catch {
            throw FlowStore.storeError(error, operation: "group flows", path: path)
        }
        return folds.values.map { fold in
            var g = fold.group
            g.destinations = Int64(fold.destinations.count)
            g.scopes = fold.scopes.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map(\.key)
            g.topDestinations = fold.destinations.sorted { ($0.value.out, $0.value.in, $1.key) > ($1.value.out, $1.value.in, $0.key) }
                .prefix(5).map(\.key)
            return g
        }
        .sorted { ($0.bytesOut, $0.bytesIn, $1.key) > ($1.bytesOut, $1.bytesIn, $0.key) }
    }

    /// The standing verdict of every program and every role in the window: how far their flows
    /// reached, and for those that reached the internet, the last such flow.
    public func standingVerdicts(in window: TimeWindow) throws(StoreError) -> [StandingVerdict] {
        let (clause, arguments) = FlowStore.windowClause(window, alias: "w")
        var verdicts: [StandingVerdict] = []
        do {
            try pool.read { db in
                for grouping in [Grouping.program, .role] {
                    let key = "substr(\(FlowStore.groupKey(grouping)), 1, \(FlowStore.keyLimit))"
                    // The last internet flow of each process (SQLite gives the bare columns of the
                    // row with the max), keyed afterwards: names are joined to few rows.
                    var egress: [String: StandingVerdict.Egress] = [:]
                    let last = try Row.fetchCursor(db, sql: """
                        WITH f AS (
                            SELECT w.process_id, w.unattributed_reason, w.hostname_id, w.remote_addr, w.rule, w.verdict, max(w."end") AS t
                            FROM flows w WHERE \(clause) AND w.scope = 'internet'
                            GROUP BY w.process_id, w.unattributed_reason
                        )
                        SELECT \(key) AS k, substr(coalesce(h.name, f.remote_addr), 1, \(FlowStore.keyLimit)) AS dest,
                            f.rule AS rule, f.verdict AS verdict, f.t AS t
                        FROM f
                        LEFT JOIN hostnames h ON h.id = f.hostname_id
                        LEFT JOIN processes p ON p.id = f.process_id
                        LEFT JOIN executables e ON e.id = p.executable_id
                        """, arguments: arguments)
                    while let row = try last.next() {
                        let k: String = row["k"] ?? "?", t: Int64 = row["t"] ?? 0
                        if let known = egress[k], known.time >= t { continue }
                        egress[k] = StandingVerdict.Egress(time: t, destination: row["dest"] ?? "?", rule: row["rule"], verdict: row["verdict"])
                    }
                    let rows = try Row.fetchCursor(db, sql: """
                        WITH f AS (
                            SELECT w.process_id, w.unattributed_reason, w.scope, count(*) AS n, min(w.start) AS first,
                                max(w."end") AS last, sum(w.bytes_out) AS bo
                            FROM flows w WHERE \(clause)
                            GROUP BY w.process_id, w.unattributed_reason, w.scope
                        )
                        SELECT \(key) AS k, sum(f.n) AS n, min(f.first) AS first, max(f.last) AS last, sum(f.bo) AS bo,
                            sum(CASE WHEN f.scope = 'internet' THEN f.n ELSE 0 END) AS inet,
                            sum(CASE WHEN f.scope = 'internet' THEN f.bo ELSE 0 END) AS inet_bo,
                            sum(CASE WHEN f.scope IN ('lan', 'link-local', 'multicast') THEN f.n ELSE 0 END) AS near,
                            group_concat(DISTINCT p.role) AS roles
                        FROM f
                        LEFT JOIN processes p ON p.id = f.process_id
                        LEFT JOIN executables e ON e.id = p.executable_id
                        GROUP BY k
                        """, arguments: arguments)
                    while let row = try rows.next() {
                        let k: String = row["k"] ?? "?"
                        let internet: Int64 = row["inet"] ?? 0, near: Int64 = row["near"] ?? 0
                        let reach: StandingVerdict.Reach = internet > 0 ? .internet : near > 0 ? .localNetwork : .loopbackOnly
                        let roles = grouping == .program
                            ? ((row["roles"] as String?)?.split(separator: ",").map(String.init).sorted() ?? []) : []
                        verdicts.append(StandingVerdict(
                            grouping: grouping == .program ? "program" : "role", key: k, roles: roles, flows: row["n"] ?? 0,
                            first: row["first"] ?? 0, last: row["last"] ?? 0, bytesOut: row["bo"] ?? 0, internetFlows: internet,
                            internetBytesOut: row["inet_bo"] ?? 0, reach: reach, lastEgress: egress[k]))
                    }
                }
            }
        } catch {
            throw FlowStore.storeError(error, operation: "read standing verdicts", path: path)
        }
        // Those that reached the internet first, most recent first; then the rest by name.
        return verdicts.sorted { a, b in
            if a.grouping != b.grouping { return a.grouping == "program" }
            if a.reach != b.reach { return a.reach > b.reach }
            if a.reach == .internet { return (a.lastEgress?.time ?? 0, b.key) > (b.lastEgress?.time ?? 0, a.key) }
            return a.key < b.key
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
