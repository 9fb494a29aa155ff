/// Socket inode → owning process, from the `socket:[INODE]` links in `/proc/PID/fd`, refreshed one process at a time.
///
/// A plain value owned by the `Attributor`'s lookup state.
struct SocketInodeIndex {
    struct Owner: Hashable, Sendable {
        var pid: Int32
        var startTime: UInt64
    }

    private(set) var owners: [UInt64: Owner] = [:]
    private var inodesByPid: [Int32: [UInt64]] = [:]
    /// Monotonic time of each process's last scan.
    private var scannedAt: [Int32: Int64] = [:]
    /// How many `/proc/PID/fd` directories were read (for the benchmark and the log).
    private(set) var directoriesRead = 0

    func owner(of inode: UInt64) -> Owner? { owners[inode] }

    func lastScan(of pid: Int32) -> Int64? { scannedAt[pid] }

    /// Re-reads the sockets of one process. Returns whether `wanted` (if given) is among them.
    ///
    /// The owner recorded is the process that holds the pid now: its start time is read from
    /// `/proc/PID/stat` (`startTime` is only the caller's belief), so a reused pid is never credited
    /// to the process that had it before.
    @discardableResult
    mutating func scan(pid: Int32, startTime believed: UInt64, proc: ProcFileSystem, now: Int64, wanted: UInt64? = nil) -> Bool {
        directoriesRead += 1
        scannedAt[pid] = now
        let base = String(pid) + "/fd"
        guard let stat = proc.readText(String(pid) + "/stat").flatMap(ProcText.stat), let names = proc.list(base) else {
            forget(pid: pid)
            return false
        }
        var inodes: [UInt64] = []
        for name in names {
            guard let link = proc.readLink(base + "/" + name), let inode = ProcText.inode(inLink: link, kind: "socket") else {
                continue
            }
            inodes.append(inode)
        }
        for old in inodesByPid[pid] ?? [] where owners[old]?.pid == pid { owners[old] = nil }
        let owner = Owner(pid: pid, startTime: stat.startTime)
        for inode in inodes where owners[inode] == nil || owners[inode]?.pid == pid {
            // A socket shared by several processes (inherited across fork) keeps its first known owner,
            // which is the older process; the exec'd child is found through its own sockets.
            owners[inode] = owner
        }
        inodesByPid[pid] = inodes
        if let wanted { return inodes.contains(wanted) }
        return false
    }

    /// Drops what is known about a process that is gone.
    mutating func forget(pid: Int32) {
        for old in inodesByPid[pid] ?? [] where owners[old]?.pid == pid { owners[old] = nil }
        inodesByPid[pid] = nil
        scannedAt[pid] = nil
    }

    /// The pids that hold `inode` right now according to the index, and others sharing it.
    func holders(of inode: UInt64) -> [Int32] {
        inodesByPid.compactMap { $0.value.contains(inode) ? $0.key : nil }
    }
}
