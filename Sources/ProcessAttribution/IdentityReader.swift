/// Reads a process's identity from /proc. I/O only through `ProcFileSystem`; the parsing is in `ProcText`.
///
/// A value with immutable state, safe to use from any thread.
struct IdentityReader: Sendable {
    let proc: ProcFileSystem
    let users: [UInt32: String]
    /// The directory standing for the host's `/` when reading container runtimes' metadata ("" for
    /// the real one; a temporary tree in tests).
    var hostRoot: String = ""

    /// The identity of `pid`, or nil when the process vanished before its stat could be read.
    /// `ancestors` gives identities already known (the parent captured at its own exec).
    func read(pid: Int32, now: Int64, ancestors: (Int32) -> ProcessIdentity?) -> ProcessRecord? {
        let base = String(pid)
        guard let statText = proc.readText(base + "/stat"), let stat = ProcText.stat(statText) else { return nil }
        var identity = ProcessIdentity(pid: pid, startTime: stat.startTime)
        identity.comm = stat.comm
        identity.ppid = stat.ppid
        identity.exe = proc.readLink(base + "/exe")
        let exeStamp = identity.exe == nil ? nil : proc.stamp(base + "/exe")
        if let cmdline = proc.read(base + "/cmdline", limit: 1 << 16) {
            identity.arguments = ProcText.arguments(fromCmdline: cmdline)
        }
        if let status = proc.readText(base + "/status"), let uid = ProcText.uid(fromStatus: status) {
            identity.uid = uid
            identity.user = users[uid]
        }
        if let cgroupText = proc.readText(base + "/cgroup"), let path = ProcText.cgroupPath(cgroupText) {
            identity.cgroup = path
            let info = CgroupInfo(path: path)
            identity.unit = info.unit
            identity.container = info.container
        }
        if let link = proc.readLink(base + "/ns/net") { identity.netns = ProcText.inode(inLink: link, kind: "net") }
        identity.tags = PackagingTags.of(exe: identity.exe, cgroup: identity.cgroup)
        identity.program = programNamer(pid: pid).program(
            exe: identity.exe, arguments: identity.arguments, comm: identity.comm,
            cwd: proc.readLink(base + "/cwd"), container: identity.container, tags: identity.tags)
        // The stat read first may belong to a process that exec'd or died since; a second stat with the
        // same start time proves the pid still names the same process.
        guard let again = proc.readText(base + "/stat").flatMap(ProcText.stat), again.startTime == stat.startTime else {
            return nil
        }
        let parent = ancestors(stat.ppid) ?? readBrief(pid: stat.ppid)
        if let parent {
            identity.parentExe = parent.exe
            identity.parentCmdline = parent.cmdline
            if let grandparent = ancestors(parent.ppid) ?? readBrief(pid: parent.ppid) {
                identity.grandparentExe = grandparent.exe
                identity.grandparentCmdline = grandparent.cmdline
            }
        }
        return ProcessRecord(identity: identity, exeStamp: exeStamp, exited: nil, captured: now)
    }

    /// Just exe, cmdline and ppid of an ancestor that is not in the table yet.
    private func readBrief(pid: Int32) -> ProcessIdentity? {
        guard pid > 0 else { return nil }
        let base = String(pid)
        guard let stat = proc.readText(base + "/stat").flatMap(ProcText.stat) else { return nil }
        var identity = ProcessIdentity(pid: pid, startTime: stat.startTime)
        identity.ppid = stat.ppid
        identity.comm = stat.comm
        identity.exe = proc.readLink(base + "/exe")
        identity.arguments = proc.read(base + "/cmdline", limit: 1 << 16).map { ProcText.arguments(fromCmdline: $0) } ?? []
        return identity
    }

    /// Names programs from the files `pid` sees (through its root: containers and other mount
    /// namespaces see their own) and the container runtimes' metadata on this machine.
    private func programNamer(pid: Int32) -> ProgramNamer {
        let root = proc.path(String(pid) + "/root")
        let hostRoot = hostRoot
        return ProgramNamer(
            readFile: { path, limit in ProcFileSystem.readFile(atPath: root + path, limit: limit) },
            hostFile: { path, limit in ProcFileSystem.readFile(atPath: hostRoot + path, limit: limit) })
    }

    /// Users from an /etc/passwd file (no NSS: no network lookups).
    static func loadUsers(passwdPath: String) -> [UInt32: String] {
        guard let bytes = ProcFileSystem.readFile(atPath: passwdPath, limit: 1 << 24) else { return [:] }
        return ProcText.users(fromPasswd: String(decoding: bytes, as: UTF8.self))
    }
}
