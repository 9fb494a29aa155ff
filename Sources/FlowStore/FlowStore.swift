import GRDB
import GRDBSQLite
import Posix
public import Reporting
#if canImport(Glibc)
import Glibc
#endif

/// The SQLite database of flows: WAL, so readers never block the writer; migrations from the first
/// version on; a file that is not ours is refused, never overwritten.
///
/// Thread-safe (`DatabasePool` serialises writes and runs reads concurrently).
public final class FlowStore: Sendable {
    public let path: String
    let pool: DatabasePool

    /// Opens (and, for writers, creates and migrates) the database at `path`.
    ///
    /// - Parameter readOnly: open for reading only: never creates, migrates or changes the file.
    public init(path: String, readOnly: Bool = false) throws(StoreError) {
        self.path = path
        let existed = try FlowStore.checkFileType(path)
        if existed { try FlowStore.checkHeader(path) }
        if readOnly && !existed {
            throw StoreError(.unavailable, operation: "open", path: path, message: "no such file; is the daemon running with this --db?")
        }
        var configuration = Configuration()
        configuration.readonly = readOnly
        configuration.busyMode = .timeout(10)
        configuration.label = "telltale"
        configuration.prepareDatabase { db in
            // The -wal and -shm files stay when the last connection closes (the WAL emptied, by
            // journal_size_limit), so a reader that may not create files beside the database (a member
            // of its group, in the daemon's state directory) can still open it once the daemon stopped.
            // Set on every connection: whichever closes last decides.
            var persist: Int32 = 1
            _ = sqlite3_file_control(db.sqliteConnection, nil, SQLITE_FCNTL_PERSIST_WAL, &persist)
            if !db.configuration.readonly {
                try db.execute(sql: "PRAGMA synchronous = NORMAL; PRAGMA journal_size_limit = 16777216")
            }
        }
        if !existed {
            // Create the file with mode 0640 before SQLite does (it would use 0644 under the usual umask);
            // O_EXCL and O_NOFOLLOW so a link put in its place since the check is not followed.
            let descriptor = open(path, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0o640)
            guard descriptor >= 0 else {
                throw StoreError(.unavailable, operation: "create", path: path, cause: SystemError("create \(path)"))
            }
            close(descriptor)
        }
        // Before any connection that could change the file (WAL mode, a checkpoint, migrations).
        if existed { try FlowStore.checkOwnership(path) }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw FlowStore.storeError(error, operation: "open", path: path)
        }
        if !readOnly {
            try prepareForWriting()
            FlowStore.restrictMode(path)
        } else {
            try checkReadable()
        }
    }

    /// Whether a database exists at `path`; refuses a symbolic link (dangling or not: root would
    /// create or rewrite whatever it names) and anything but a regular file (a FIFO blocks the open).
    private static func checkFileType(_ path: String) throws(StoreError) -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return false }
            throw StoreError(.unavailable, operation: "open", path: path, cause: SystemError("open \(path)"))
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            return true
        case S_IFLNK:
            throw StoreError(.unavailable, operation: "open", path: path,
                             message: "is a symbolic link: refused; give the database's own path")
        default:
            throw StoreError(.unavailable, operation: "open", path: path,
                             message: "is \(fileKind(info)), not a regular file: refused")
        }
    }

    private static func fileKind(_ info: stat) -> String {
        switch info.st_mode & S_IFMT {
        case S_IFIFO: "a FIFO"
        case S_IFDIR: "a directory"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        default: "of an unknown kind"
        }
    }

    /// Whether the first bytes say SQLite; an empty file counts as new.
    private static func checkHeader(_ path: String) throws(StoreError) {
        // O_NONBLOCK and O_NOFOLLOW: a FIFO or link swapped in since checkFileType must not block or be followed.
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw StoreError(.unavailable, operation: "open", path: path, cause: SystemError("open \(path)"))
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw StoreError(.unavailable, operation: "open", path: path, message: "is \(fileKind(info)), not a regular file: refused")
        }
        var header = [UInt8](repeating: 0, count: 16)
        let count = read(descriptor, &header, 16)
        if count == 0 { return }
        let magic = Array("SQLite format 3".utf8) + [0]
        guard count == 16, header == magic else {
            throw StoreError(.notOurs, operation: "open", path: path, message: "not an SQLite file")
        }
    }

    /// Refuses an existing database of another application, or of a newer Telltale, before anything
    /// (such as switching it to WAL) could change it: it is opened read-only for the check.
    private static func checkOwnership(_ path: String) throws(StoreError) {
        var configuration = Configuration()
        configuration.readonly = true
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            defer { try? queue.close() }
            try queue.read { db in
                let applicationID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
                let tables = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master WHERE type = 'table'") ?? 0
                if applicationID == Schema.applicationID {
                    if try Schema.migrator.hasBeenSuperseded(db) {
                        throw StoreError(.tooNew, operation: "open", path: path, message: "unknown schema migrations")
                    }
                    return
                }
                if applicationID == 0 && tables == 0 { return }
                throw StoreError(
                    .notOurs, operation: "open", path: path,
                    message: applicationID == 0 ? "it holds \(tables) tables of another application"
                        : "application id 0x" + String(UInt32(bitPattern: applicationID), radix: 16))
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw FlowStore.storeError(error, operation: "open", path: path)
        }
    }

    private func prepareForWriting() throws(StoreError) {
        do {
            try pool.barrierWriteWithoutTransaction { db in
                let applicationID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
                let tables = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master WHERE type = 'table'") ?? 0
                if applicationID == 0 && tables == 0 {
                    // auto_vacuum only takes hold through a VACUUM once the file exists (WAL wrote its header).
                    try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
                    try db.execute(sql: "VACUUM")
                    try db.execute(sql: "PRAGMA application_id = \(Schema.applicationID)")
                } else if applicationID != Schema.applicationID {
                    throw StoreError(
                        .notOurs, operation: "open", path: path,
                        message: applicationID == 0 ? "it holds \(tables) tables of another application"
                            : "application id 0x" + String(UInt32(bitPattern: applicationID), radix: 16))
                }
                if try Schema.migrator.hasBeenSuperseded(db) {
                    throw StoreError(.tooNew, operation: "migrate", path: path, message: "unknown schema migrations")
                }
            }
            try Schema.migrator.migrate(pool)
        } catch let error as StoreError {
            throw error
        } catch {
            throw FlowStore.storeError(error, operation: "migrate", path: path)
        }
    }

    private func checkReadable() throws(StoreError) {
        do {
            try pool.read { db in
                let applicationID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
                guard applicationID == Schema.applicationID else {
                    throw StoreError(.notOurs, operation: "open", path: path, message: "no Telltale application id")
                }
                if try Schema.migrator.hasBeenSuperseded(db) {
                    throw StoreError(.tooNew, operation: "open", path: path, message: "unknown schema migrations")
                }
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw FlowStore.storeError(error, operation: "open", path: path)
        }
    }

    /// Keeps the database and its WAL files readable by the owner and group only.
    static func restrictMode(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { chmod(path + suffix, 0o640) }
    }

    /// Moves what the WAL holds into the database file and empties the WAL, so that the file alone
    /// carries every committed flow (a copy of it, a reader without write access to the directory).
    /// Best effort: a reader holding an old snapshot leaves the rest for the next checkpoint.
    public func checkpoint() {
        try? pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
    }

    /// The schema migrations applied, in order.
    public func appliedMigrations() throws(StoreError) -> [String] {
        do {
            return try pool.read { db in try Array(Schema.migrator.appliedMigrations(db)) }
        } catch {
            throw FlowStore.storeError(error, operation: "read migrations", path: path)
        }
    }

    /// Bytes used by the database file and its WAL.
    public var fileSize: Int64 {
        var total: Int64 = 0
        for suffix in ["", "-wal"] {
            var info = stat()
            if stat(path + suffix, &info) == 0 { total += Int64(info.st_size) }
        }
        return total
    }

    /// Runs `PRAGMA integrity_check` and returns its answer ("ok" when sound).
    public func integrityCheck() throws(StoreError) -> String {
        do {
            return try pool.read { db in
                try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ")
            }
        } catch {
            throw FlowStore.storeError(error, operation: "integrity check", path: path)
        }
    }

    /// Maps SQLite's result codes to the store's error kinds.
    static func storeError(_ error: any Error, operation: String, path: String) -> StoreError {
        if let error = error as? StoreError { return error }
        guard let error = error as? DatabaseError else {
            return StoreError(.failed, operation: operation, path: path, message: "\(error)")
        }
        let message = error.message ?? "\(error.resultCode)"
        switch error.resultCode.primaryResultCode {
        case .SQLITE_FULL: return StoreError(.diskFull, operation: operation, path: path, message: message)
        case .SQLITE_NOTADB: return StoreError(.notOurs, operation: operation, path: path, message: message)
        case .SQLITE_CORRUPT: return StoreError(.corrupt, operation: operation, path: path, message: message)
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_READONLY, .SQLITE_AUTH:
            return StoreError(.unavailable, operation: operation, path: path, message: message)
        case .SQLITE_IOERR:
            // ENOSPC during a WAL write surfaces as an I/O error.
            let full = message.contains("disk") || error.extendedResultCode == .SQLITE_IOERR_WRITE
            return StoreError(full ? .diskFull : .failed, operation: operation, path: path, message: message)
        default: return StoreError(.failed, operation: operation, path: path, message: message)
        }
    }
}
