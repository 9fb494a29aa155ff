/// The local process that owns a flow, as flows and names carry it: the process id and its start
/// time, so that a reused pid is another process. What the process is (its program, user, unit) is
/// attribution's to say.
public struct ProcessKey: Hashable, Sendable {
    public var pid: Int32
    /// The process's start time in whatever unit attribution uses (clock ticks since boot on Linux).
    public var startTime: UInt64

    public init(pid: Int32, startTime: UInt64) {
        self.pid = pid
        self.startTime = startTime
    }
}
