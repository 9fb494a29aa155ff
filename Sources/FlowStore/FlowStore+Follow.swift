import GRDB
public import Reporting

/// Reading flows in the order they finished, for `report --follow` and shippers that resume.
///
/// Each flow is handed out once, when it has ended: the store numbers flows (`seq`) as they are
/// written ended, in commit order, so "every flow after N" never repeats one and never misses one
/// that a later commit could slip in before N. Open flows (checkpointed every few seconds) are not
/// handed out until they end.
extension FlowStore {
    /// The largest finished-order number committed (0 when no flow has ended yet).
    public func lastSequence() throws(StoreError) -> Int64 {
        do {
            return try pool.read { db in try Int64.fetchOne(db, sql: "SELECT max(seq) FROM flows") ?? 0 }
        } catch {
            throw FlowStore.storeError(error, operation: "read the finished order", path: path)
        }
    }

    /// The finished-order number of a flow; nil when the store has no such flow or it is still open.
    public func sequence(ofFlow uid: String) throws(StoreError) -> Int64?? {
        do {
            return try pool.read { db -> Int64?? in
                guard let row = try Row.fetchOne(db, sql: "SELECT seq FROM flows WHERE uid = ?", arguments: [uid]) else {
                    return .none
                }
                return .some(row["seq"] as Int64?)
            }
        } catch {
            throw FlowStore.storeError(error, operation: "find flow \(uid)", path: path)
        }
    }

    /// The number just before the first finished flow that ended at or after `time`: following from it
    /// starts with that flow.
    public func sequence(beforeFlowsEndingAt time: Int64) throws(StoreError) -> Int64 {
        do {
            return try pool.read { db in
                let first = try Int64.fetchOne(db, sql: "SELECT min(seq) FROM flows WHERE \"end\" >= ? AND seq IS NOT NULL", arguments: [time])
                if let first { return first - 1 }
                return try Int64.fetchOne(db, sql: "SELECT max(seq) FROM flows") ?? 0
            }
        } catch {
            throw FlowStore.storeError(error, operation: "find flows ending after a time", path: path)
        }
    }

    /// Finished flows numbered after `sequence`, in finished order, at most `limit`; with `endingFrom`,
    /// only those that ended at or after it.
    public func finishedFlows(after sequence: Int64, endingFrom: Int64? = nil, limit: Int = 1_000) throws(StoreError) -> [FlowRow] {
        var sql = FlowStore.flowSelect + " WHERE f.seq > ?"
        var arguments: StatementArguments = [sequence]
        if let endingFrom { sql += " AND f.\"end\" >= ?"; arguments += [endingFrom] }
        sql += " ORDER BY f.seq LIMIT \(max(1, limit))"
        do {
            let rows = try pool.read { db in try Row.fetchAll(db, sql: sql, arguments: arguments) }
            return rows.map(FlowStore.flowRow)
        } catch {
            throw FlowStore.storeError(error, operation: "read finished flows", path: path)
        }
    }
}
