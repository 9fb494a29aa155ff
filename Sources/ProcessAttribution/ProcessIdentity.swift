/// Who a process is, captured when it starts (exec, fork, or the first scan) so that it outlives the process.
public struct ProcessIdentity: Sendable, Hashable {
    public var pid: Int32
    /// Start time in clock ticks since boot (`/proc/PID/stat` field 22): with `pid`, it names one process
    /// even when pids are reused.
    public var startTime: UInt64
    /// The executable's path (`/proc/PID/exe`); a replaced file ends in " (deleted)".
    public var exe: String?
    /// SHA-256 of the executable, lowercase hex; nil when the file could not be read.
    public var sha256: String?
    public var arguments: [String]
    public var comm: String
    public var uid: UInt32
    /// The user name from /etc/passwd (never from the network).
    public var user: String?
    public var ppid: Int32
    public var parentExe: String?
    public var parentCmdline: String?
    public var grandparentExe: String?
    public var grandparentCmdline: String?
    /// The process's cgroup path (the unified hierarchy when there is one).
    public var cgroup: String?
    /// The systemd unit (service or scope) derived from the cgroup path.
    public var unit: String?
    /// A container id (Docker, Podman, containerd, CRI-O) derived from the cgroup path.
    public var container: String?
    /// The inode of the process's network namespace.
    public var netns: UInt64?
    /// Packaging tags: `flatpak`, `snap`, `appimage`.
    public var tags: [String]
    /// What a person calls the program (the script, module, package or app an interpreter runs).
    public var program: Program?

    /// The command line joined with spaces, the way the JSON contract shows it.
    public var cmdline: String { arguments.joined(separator: " ") }

    public init(pid: Int32, startTime: UInt64) {
        self.pid = pid
        self.startTime = startTime
        arguments = []
        comm = ""
        uid = 0
        ppid = 0
        tags = []
    }
}
