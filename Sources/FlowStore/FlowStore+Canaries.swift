import GRDB

/// A canary: a random token a person pastes into an app; any egress carrying it is a leak.
public struct CanaryRecord: Sendable, Equatable {
    public var id: Int64
    public var token: String
    public var label: String?
    /// Nanoseconds since the Unix epoch.
    public var created: Int64

    public init(id: Int64, token: String, label: String?, created: Int64) {
        self.id = id
        self.token = token
        self.label = label
        self.created = created
    }
}

extension FlowStore {
    /// Stores a new canary and returns it with its id.
    public func insertCanary(token: String, label: String?, created: Int64) throws(StoreError) -> CanaryRecord {
        do {
            let id = try pool.write { db in
                try db.execute(
                    sql: "INSERT INTO canaries (token, label, created) VALUES (?, ?, ?)", arguments: [token, label, created])
                return db.lastInsertedRowID
            }
            return CanaryRecord(id: id, token: token, label: label, created: created)
        } catch {
            throw FlowStore.storeError(error, operation: "insert canary", path: path)
        }
    }

    /// Every canary, oldest first.
    public func canaries() throws(StoreError) -> [CanaryRecord] {
        do {
            return try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT id, token, label, created FROM canaries ORDER BY id").map { row in
                    CanaryRecord(id: row["id"], token: row["token"], label: row["label"], created: row["created"])
                }
            }
        } catch {
            throw FlowStore.storeError(error, operation: "read canaries", path: path)
        }
    }

    /// Removes the canary with this id or token; false when there was none.
    public func removeCanary(_ idOrToken: String) throws(StoreError) -> Bool {
        do {
            return try pool.write { db in
                if let id = Int64(idOrToken) {
                    try db.execute(sql: "DELETE FROM canaries WHERE id = ?", arguments: [id])
                } else {
                    try db.execute(sql: "DELETE FROM canaries WHERE token = ?", arguments: [idOrToken])
                }
                return db.changesCount > 0
            }
        } catch {
            throw FlowStore.storeError(error, operation: "remove canary", path: path)
        }
    }
}
