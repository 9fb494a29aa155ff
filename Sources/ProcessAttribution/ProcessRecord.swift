/// What the process table keeps about one process: its identity, its executable's stamp, and when it ended.
struct ProcessRecord: Sendable {
    var identity: ProcessIdentity
    /// Device, inode and mtime of the executable when the identity was captured (for the hash cache).
    var exeStamp: ProcFileSystem.FileStamp?
    /// Wall-clock nanoseconds of the exit event, or nil while the process runs.
    var exited: Int64?
    /// Wall-clock nanoseconds when the identity was captured (exec, fork or a later scan); zero for the first scan.
    var captured: Int64
}

/// Identities of live and recently ended processes, keyed by pid, fed by process events and scans.
///
/// A plain value; the `Attributor` guards it with a mutex shared by the event thread and lookups.
struct ProcessTable: Sendable {
    private(set) var records: [Int32: ProcessRecord] = [:]
    /// Ended processes, oldest first, kept for `exitedRetention` nanoseconds.
    private var exitOrder: [(pid: Int32, startTime: UInt64, at: Int64)] = []
    private var exitedRecords: [PidStart: ProcessRecord] = [:]
    var exitedRetention: Int64 = 120_000_000_000
    /// The time of the latest exit event.
    private(set) var lastExit: Int64 = 0

    struct PidStart: Hashable, Sendable {
        var pid: Int32
        var startTime: UInt64
    }

    var count: Int { records.count }

    subscript(pid: Int32) -> ProcessRecord? { records[pid] }

    /// The live process with this pid, or else the one that ended last with it.
    func latest(pid: Int32) -> ProcessRecord? {
        if let live = records[pid] { return live }
        return exitedRecords.values.filter { $0.identity.pid == pid }.max { ($0.exited ?? 0) < ($1.exited ?? 0) }
    }

    /// A live or recently ended process with this exact pid and start time.
    func record(pid: Int32, startTime: UInt64) -> ProcessRecord? {
        if let live = records[pid], live.identity.startTime == startTime { return live }
        return exitedRecords[PidStart(pid: pid, startTime: startTime)]
    }

    mutating func insert(_ record: ProcessRecord) {
        if let old = records[record.identity.pid], old.identity.startTime != record.identity.startTime {
            // The pid was reused without us seeing the exit: keep the old identity among the ended.
            retire(old, at: record.captured)
        }
        records[record.identity.pid] = record
    }

    mutating func markExited(pid: Int32, at time: Int64) {
        guard let record = records.removeValue(forKey: pid) else { return }
        retire(record, at: time)
        lastExit = max(lastExit, time)
    }

    private mutating func retire(_ record: ProcessRecord, at time: Int64) {
        var record = record
        record.exited = time
        let key = PidStart(pid: record.identity.pid, startTime: record.identity.startTime)
        exitedRecords[key] = record
        exitOrder.append((record.identity.pid, record.identity.startTime, time))
        prune(now: time)
    }

    /// Forgets ended processes older than the retention.
    mutating func prune(now: Int64) {
        var drop = 0
        while drop < exitOrder.count, now - exitOrder[drop].at > exitedRetention {
            let item = exitOrder[drop]
            exitedRecords[PidStart(pid: item.pid, startTime: item.startTime)] = nil
            drop += 1
        }
        if drop > 0 { exitOrder.removeFirst(drop) }
    }

    /// Pids captured (started, exec'd, forked) at or after `time`, newest first.
    func pids(capturedSince time: Int64) -> [Int32] {
        records.values.filter { $0.captured >= time }.sorted { $0.captured > $1.captured }.map(\.identity.pid)
    }

    /// Removes a live record that /proc says is gone (no exit event seen: the connector is off or lost events).
    mutating func forget(pid: Int32, at time: Int64) { markExited(pid: pid, at: time) }
}
