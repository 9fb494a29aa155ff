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

    /// The counters of flows whose last packet came at or after `time`: the light read `top` makes
    /// each refresh (no joins, six columns), fetching whole rows only for flows it has not seen.
    public func flowCounters(endingAfter time: Int64) throws(StoreError) -> [FlowCounters] {
        do {
            return try pool.read { db in
                var out: [FlowCounters] = []
                let cursor = try Row.fetchCursor(
                    db, sql: "SELECT uid, start, \"end\", bytes_out, bytes_in, open, verdict = 'alert' FROM flows WHERE \"end\" >= ?",
                    arguments: [time])
                while let row = try cursor.next() {
                    out.append(
                        FlowCounters(
                            uid: row[0], start: row[1], end: row[2], bytesOut: row[3], bytesIn: row[4], isOpen: (row[5] as Int? ?? 0) != 0,
                            alert: (row[6] as Int? ?? 0) != 0))
                }
                return out
            }
        } catch {
            throw FlowStore.storeError(error, operation: "read recent flow counters", path: path)
        }
    }

    /// Whole rows of the flows named, with whether each is still open.
    public func flows(uids: [String]) throws(StoreError) -> [(row: FlowRow, isOpen: Bool)] {
        var out: [(row: FlowRow, isOpen: Bool)] = []
        var start = 0
        while start < uids.count {
            let slice = Array(uids[start..<min(uids.count, start + 500)])
            start += 500
            let sql = FlowStore.flowSelect + " WHERE f.uid IN (" + Array(repeating: "?", count: slice.count).joined(separator: ",") + ")"
            do {
                let rows = try pool.read { db in try Row.fetchAll(db, sql: sql, arguments: StatementArguments(slice)) }
                out += rows.map { (FlowStore.flowRow($0), ($0["open"] as Int? ?? 0) != 0) }
            } catch {
                throw FlowStore.storeError(error, operation: "read flows by uid", path: path)
            }
        }
        return out
    }

    /// Capture and socket-event losses recorded since `time` (the flow figures of `Coverage` stay zero).
    public func losses(since time: Int64) throws(StoreError) -> Coverage {
        do {
            return try pool.read { db in
                var c = Coverage()
                try FlowStore.addCaptureLosses(db, where: "time >= ?", [time], to: &c)
                return c
            }
        } catch {
            throw FlowStore.storeError(error, operation: "read capture losses", path: path)
        }
    }
}
