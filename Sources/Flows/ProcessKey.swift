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

/// Attribution's answer about a flow's owner, as a flow record keeps it: the process, or nil when
/// no process was found. Attribution keeps its whole answer in a subclass; one object is shared by
/// every flow of one process (and by every flow left unattributed for one reason).
open class OwnerAnswer: @unchecked Sendable {
    /// Immutable: the object is read from several threads.
    public let process: ProcessKey?

    public init(process: ProcessKey?) {
        self.process = process
    }
}

extension OwnerAnswer: Equatable {
    /// The same answer: the same object.
    public static func == (lhs: OwnerAnswer, rhs: OwnerAnswer) -> Bool { lhs === rhs }
}
