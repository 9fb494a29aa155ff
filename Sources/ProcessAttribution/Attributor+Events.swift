import PacketParsing
import Posix
import Synchronization

/// Which source named a flow's process: the JSON contract's `attribution_source`.
public enum AttributionSource: String, Sendable, Hashable {
    /// The kernel reported the socket's use in the process's own context (BPF).
    case kernelEvents = "kernel-events"
    /// A lookup of the socket tables and /proc after the first packet.
    case polling
}

extension Attributor {
    /// Loads the kernel's socket-event programs and starts reading them. Call it before capture
    /// starts: from then on a socket is known from its first use. Throws the reason when the kernel
    /// or the permissions refuse; attribution then works by polling alone.
    public func startKernelEvents() throws(KernelSocketEvents.LoadError) {
        let loaded = try KernelSocketEvents()
        loaded.start()
        kernelEvents.withLock { $0 = loaded }
    }

    /// The kernel's socket events, when they were loaded.
    public var socketEvents: KernelSocketEvents? { kernelEvents.withLock { $0 } }

    /// The process the kernel's events name for the local end of a flow, or nil when no event matches
    /// (yet: an event can arrive just after the packet).
    ///
    /// - Parameters:
    ///   - time: the flow's first packet time.
    ///   - horizon: how long after `time` a report still counts.
    ///   - firstPacketBytes: the IP length of the first packet, to recognise a frame a packet socket wrote.
    ///   - senders: also match raw IP and packet sockets by time (only once the socket tables had their chance).
    ///   - settled: trust a report older than the flow only once the ring was read well after the
    ///     flow began (false: the caller has waited long enough already).
    public func attributeFromEvents(
        _ query: SocketQuery, at time: Int64, horizon: Int64 = 1_000_000_000, firstPacketBytes: Int64 = 0,
        senders: Bool = false, settled: Bool = true
    ) -> Attribution? {
        guard let events = socketEvents else { return nil }
        let readUpTo = settled ? events.readUpTo : nil
        // A socket that reported before the flow began may have closed since and left its port to a
        // socket that never reports (a frame a packet socket wrote): in this namespace, the kernel is
        // asked whether that very socket (by cookie) still holds the endpoints.
        let checkable = query.ipProtocol == IPProtocolNumber.tcp || query.ipProtocol == IPProtocolNumber.udp
        var match = events.withIndex { index in
            index.match(query, flowStart: time, horizon: horizon, ownNetns: ownNetns, readUpTo: readUpTo) { cookie, netns in
                // sock_diag sees this namespace only: elsewhere the report stands.
                cookie == 0 || !checkable || netns != (ownNetns ?? netns) || socketStillHolds(query, cookie: cookie)
            }
        }
        if match == .none, senders {
            match = events.withIndex { $0.matchSender(query, flowStart: time, firstPacketBytes: firstPacketBytes) }
        }
        switch match {
        case .owner(let owner, _, _): return .process(identity(of: owner))
        case .ambiguous: return .unattributed(.ambiguous)
        case .none, .unsettled: return nil
        }
    }

    /// Whether the socket with `cookie` still holds the query's endpoints in this namespace (true when
    /// the kernel cannot say).
    func socketStillHolds(_ query: SocketQuery, cookie: UInt64) -> Bool {
        guard query.ipProtocol == IPProtocolNumber.tcp || query.ipProtocol == IPProtocolNumber.udp else { return true }
        return verifier.withLock { diagnostics in
            if diagnostics == nil { diagnostics = try? SocketDiagnostics() }
            guard let diagnostics else { return true }
            do {
                let entry = try diagnostics.exact(
                    ipProtocol: query.ipProtocol, local: query.localAddress, localPort: query.localPort,
                    remote: query.remoteAddress, remotePort: query.remotePort)
                return entry?.cookie == cookie
            } catch {
                return true
            }
        }
    }

    /// An identity read from /proc as the process was ending (a zombie has a stat but no executable
    /// or command line), completed from its exec event.
    private func completed(_ identity: ProcessIdentity) -> ProcessIdentity {
        guard identity.exe == nil || identity.arguments.isEmpty,
              let exec = socketEvents?.withIndex({ $0.exec(pid: identity.pid, startTime: identity.startTime) })
        else { return identity }
        var identity = identity
        if identity.exe == nil { identity.exe = exec.path }
        if identity.arguments.isEmpty { identity.arguments = [exec.path] }
        processes.withLock { table in
            if var stored = table.record(pid: identity.pid, startTime: identity.startTime), stored.exited == nil {
                stored.identity.exe = identity.exe
                stored.identity.arguments = identity.arguments
                table.insert(stored)
            }
        }
        return identity
    }

    /// This process's network namespace inode.
    static func ownNetns(_ proc: ProcFileSystem) -> UInt64? {
        proc.readLink("self/ns/net").flatMap { ProcText.inode(inLink: $0, kind: "net") }
    }

    /// The identity of a process an event named: the process table's (captured at exec), else read
    /// now, else what the exec event carried, else the name the event gave.
    func identity(of owner: SocketEventIndex.Owner) -> ProcessIdentity {
        if let record = processes.withLock({ $0.record(pid: owner.pid, startTime: owner.startTime) }),
           record.identity.comm == owner.comm || owner.comm.isEmpty {
            return completed(record.identity)
        }
        let now = SystemClock.wallNanoseconds()
        if let record = capture(pid: owner.pid, now: now), record.identity.startTime == owner.startTime,
           record.identity.comm == owner.comm || owner.comm.isEmpty {
            return completed(record.identity)
        }
        // Gone before /proc could be read: the exec event still says what it ran.
        var identity = ProcessIdentity(pid: owner.pid, startTime: owner.startTime)
        identity.comm = owner.comm
        identity.netns = owner.netns == 0 ? nil : owner.netns
        if let exec = socketEvents?.withIndex({ $0.exec(pid: owner.pid, startTime: owner.startTime) }) {
            identity.exe = exec.path
            identity.ppid = exec.ppid
            identity.arguments = [exec.path]
            if let parent = processes.withLock({ $0.latest(pid: exec.ppid)?.identity }) {
                identity.parentExe = parent.exe
                identity.parentCmdline = parent.cmdline
                identity.uid = parent.uid
                identity.user = parent.user
                identity.cgroup = parent.cgroup
                identity.unit = parent.unit
                identity.container = parent.container
            }
        }
        processes.withLock { table in
            if table.record(pid: owner.pid, startTime: owner.startTime) == nil {
                table.insert(ProcessRecord(identity: identity, exeStamp: nil, exited: now, captured: now))
            }
        }
        return identity
    }
}
