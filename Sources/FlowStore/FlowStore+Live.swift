import GRDB
public import Reporting

extension FlowStore {
    /// Flows whose last packet came at or after `time`, with whether they are still open: what `top`
    /// reads each refresh while the daemon writes (open flows are checkpointed with their counters
    /// so far). Uses the index on `end`.
    public func flows(endingAfter time: Int64) throws(StoreError) -> [(row: FlowRow, isOpen: Bool)] {
        let sql = FlowStore.flowSelect + " WHERE f.\"end\" >= ?"
        do {
            return try pool.read { db in
                try Row.fetchAll(db, sql: sql, arguments: [time]).map { (FlowStore.flowRow($0), ($0["open"] as Int? ?? 0) != 0) }
            }
        } catch {
            throw FlowStore.storeError(error, operation: "read recent flows", path: path)
        }
    }

    /// Capture and socket-event losses recorded since `time` (the flow figures of `Coverage` stay zero).
    public func losses(since time: Int64) throws(StoreError) -> Coverage {
        do {
            return try pool.read { db in
                var c = Coverage()
                if let row = try Row.fetchOne(db, sql: """
                    SELECT sum(received) AS r, sum(dropped) AS d, sum(interface_dropped) AS i, sum(queue_dropped) AS q,
                        sum(event_dropped) AS e
                    FROM capture_stats WHERE time >= ?
                    """, arguments: [time]) {
                    c.received = row["r"] ?? 0
                    c.dropped = row["d"] ?? 0
                    c.interfaceDropped = row["i"] ?? 0
                    c.queueDropped = row["q"] ?? 0
                    c.eventDropped = row["e"] ?? 0
                }
                return c
            }
        } catch {
            throw FlowStore.storeError(error, operation: "read capture losses", path: path)
        }
    }
}
