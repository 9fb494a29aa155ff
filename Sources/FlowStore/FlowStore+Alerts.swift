import GRDB
import Foundation
public import Reporting

extension FlowStore: AlertStore {
    /// Stores an alert and returns its row id.
    @discardableResult
    public func insertAlert(_ a: AlertRecord) throws(StoreError) -> Int64 {
        do {
            return try pool.write { db in
                try db.execute(sql: """
                    INSERT INTO alerts (time, flow_uid, pid, exe, process, role, remote_addr, remote_port, proto, hostname,
                        rule, severity, message, tags, delivered, program, name_source, content)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [
                        a.time, a.flowUID, a.pid, a.exe, a.process, a.role, a.remoteAddress, a.remotePort, a.proto,
                        a.hostname, a.rule, a.severity, a.message, a.tags.joined(separator: ","),
                        a.delivered.joined(separator: ","), a.program, a.nameSource, a.content.map(FlowStore.encode),
                    ])
                return db.lastInsertedRowID
            }
        } catch {
            throw FlowStore.storeError(error, operation: "insert alert", path: path)
        }
    }

    /// Records which sinks took an alert.
    public func setAlertDelivered(id: Int64, sinks: [String]) throws(StoreError) {
        do {
            try pool.write { db in
                try db.execute(sql: "UPDATE alerts SET delivered = ? WHERE id = ?", arguments: [sinks.joined(separator: ","), id])
            }
        } catch {
            throw FlowStore.storeError(error, operation: "update alert", path: path)
        }
    }

    /// Alerts raised in the window, oldest first; `limit` keeps the newest ones.
    public func alerts(in window: TimeWindow, limit: Int? = nil) throws(StoreError) -> [AlertRecord] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let from = window.from { conditions.append("time >= ?"); arguments += [from] }
        if let to = window.to { conditions.append("time <= ?"); arguments += [to] }
        var sql = "SELECT * FROM alerts WHERE \(conditions.isEmpty ? "1" : conditions.joined(separator: " AND ")) ORDER BY time DESC, id DESC"
        if let limit { sql += " LIMIT \(max(0, limit))" }
        return try fetchAlerts(sql, arguments, newestFirst: true)
    }

    /// Alerts stored after the one with row id `id`, in the order they were stored (at most `limit`).
    /// A follower keeps the last id it saw and asks again: each alert once, none skipped.
    public func alerts(afterID id: Int64, limit: Int = 1000) throws(StoreError) -> [AlertRecord] {
        try fetchAlerts("SELECT * FROM alerts WHERE id > ? ORDER BY id LIMIT \(max(0, limit))", [id], newestFirst: false)
    }

    /// The row id of the newest alert (0 when there is none).
    public func lastAlertID() throws(StoreError) -> Int64 {
        do {
            return try pool.read { db in try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(id), 0) FROM alerts") ?? 0 }
        } catch {
            throw FlowStore.storeError(error, operation: "read alerts", path: path)
        }
    }

    private func fetchAlerts(_ sql: String, _ arguments: StatementArguments, newestFirst: Bool) throws(StoreError) -> [AlertRecord] {
        do {
            let fetched = try pool.read { db in try Row.fetchAll(db, sql: sql, arguments: arguments) }
            let rows = newestFirst ? Array(fetched.reversed()) : fetched
            return rows.map { row in
                let tags: String = row["tags"] ?? ""
                let delivered: String = row["delivered"] ?? ""
                var record = AlertRecord(
                    id: row["id"], time: row["time"], flowUID: row["flow_uid"], pid: row["pid"], exe: row["exe"],
                    process: row["process"], role: row["role"], remoteAddress: row["remote_addr"] ?? "",
                    remotePort: row["remote_port"] ?? 0, proto: row["proto"] ?? "", hostname: row["hostname"],
                    rule: row["rule"] ?? "", severity: row["severity"] ?? "", message: row["message"] ?? "",
                    tags: tags.split(separator: ",").map(String.init),
                    delivered: delivered.split(separator: ",").map(String.init))
                record.program = row["program"]
                record.nameSource = row["name_source"]
                record.content = (row["content"] as String?).flatMap(FlowStore.decodeContent)
                return record
            }
        } catch {
            throw FlowStore.storeError(error, operation: "read alerts", path: path)
        }
    }
}

extension FlowStore {
    /// A content alert's evidence as the JSON text the `content` column keeps.
    static func encode(_ content: AlertRecord.ContentEvidence) -> String {
        (try? JSONEncoder().encode(content)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    static func decodeContent(_ text: String) -> AlertRecord.ContentEvidence? {
        try? JSONDecoder().decode(AlertRecord.ContentEvidence.self, from: Data(text.utf8))
    }
}
