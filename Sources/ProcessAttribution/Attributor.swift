public import Logging
import PacketParsing
import Posix
import Synchronization

/// Answers "which process owns the local socket of this flow?" for live traffic.
///
/// Threading: `start()` and `stop()` belong to the owner. `attribute(_:at:)` may be called from any
/// thread; calls are serialised by an internal lock, so one attribution worker thread is the intended
/// caller. The proc connector runs on its own thread and shares only the process table (a second,
/// short-held lock) with lookups. Nothing here awaits or uses the cooperative pool: call it from a
/// dedicated thread, not from an async task.
public final class Attributor: Sendable {
    /// Tuning knobs; the defaults suit a desktop or a server.
    public struct Options: Sendable {
        /// How long an attributed 5-tuple keeps its process after its socket is gone.
        public var stickyLifetime: Int64 = 120_000_000_000
        /// Minimum time between scans of every process's fds on a miss (young processes are always scanned).
        public var fullScanInterval: Int64 = 500_000_000
        /// Processes that started (or exec'd) within this window are scanned first on a miss.
        public var youngWindow: Int64 = 10_000_000_000
        /// Whether to use the proc connector (false: /proc scans only, as without CAP_NET_ADMIN).
        public var useProcessEvents = true
        /// Whether to use netlink sock_diag (false: parse /proc/net tables only).
        public var useSocketDiagnostics = true
        /// When a socket lives in another network namespace: name its process (true) or answer
        /// `other-netns` (false), which is what a monitor of this machine's own traffic reports.
        public var attributeOtherNamespaces = false
        /// The passwd file for user names.
        public var passwdPath = "/etc/passwd"

        public init() {}
    }

    /// Counters for the log and the benchmark.
    public struct Statistics: Sendable, Equatable {
        public var queries = 0
        public var attributed = 0
        public var stickyHits = 0
        public var fdDirectoriesRead = 0
        public var processEvents = 0
        public var eventOverruns = 0
        public var processesKnown = 0
        public var usesProcessEvents = false
        public var usesSocketDiagnostics = false
    }

    let proc: ProcFileSystem
    let logger: Logger
    let options: Options
    let processes = Mutex(ProcessTable())
    /// Executable hashes, apart from the lookup lock: hashing never holds up a lookup.
    let hashing = Mutex(ExeHasher())
    let lookup: Mutex<LookupState>
    let events = Mutex<ProcessEventListener?>(nil)
    let reader: IdentityReader
    let eventCount = Atomic<Int>(0)
    /// Processes that exited since the last `takeExitedProcesses()` (bounded), with when.
    let exits = Mutex<[(pid: Int32, at: Int64)]>([])
    /// Whether `exits` holds any: read for every captured packet, without the lock.
    let exitsWaiting = Atomic<Bool>(false)
    /// A sock_diag socket of its own for checking that a socket an event named still exists, so the
    /// check never waits for the lookup lock.
    let verifier = Mutex<SocketDiagnostics?>(nil)
    /// The kernel's socket events, once `startKernelEvents()` loaded them.
    let kernelEvents = Mutex<KernelSocketEvents?>(nil)

    /// This process's network namespace inode (nil when /proc does not say).
    let ownNetns: UInt64?

    /// Creates an attributor reading `procRoot`. Nothing else is read until `start()`.
    public init(procRoot: String = "/proc", logger: Logger, options: Options = Options()) {
        proc = ProcFileSystem(root: procRoot)
        ownNetns = Attributor.ownNetns(proc)
        self.logger = logger
        self.options = options
        reader = IdentityReader(proc: proc, users: IdentityReader.loadUsers(passwdPath: options.passwdPath))
        lookup = Mutex(LookupState())
    }

    deinit { stop() }

    /// Subscribes to process events (when allowed), then scans /proc once to seed the process table
    /// and the socket index. Events that arrive during the scan are applied too, so none is lost.
    public func start() throws(NetlinkError) {
        startProcessEvents()
        seed()
    }

    /// Subscribes to the kernel's process events (fork, exec, exit), when allowed. Quick: call it
    /// before anything the table should know about starts.
    public func startProcessEvents() {
        guard options.useProcessEvents, events.withLock({ $0 == nil }) else { return }
        do {
            let listener = try ProcessEventListener()
            listener.start(
                handler: { [self] event in handle(event) },
                failure: { [logger] error in
                    logger.error("process events stopped; attribution falls back to /proc scans", metadata: ["error": "\(error)"])
                })
            events.withLock { $0 = listener }
            logger.info("process events from the kernel's proc connector")
        } catch {
            logger.notice(
                "proc connector unavailable; process identities come from /proc scans only, so very short-lived processes may be missed",
                metadata: ["error": "\(error)"])
        }
    }

    /// Opens sock_diag and scans /proc once (seconds on a busy machine): polling needs it, the
    /// kernel's socket events do not.
    public func seed() {
        let ownNetns = self.ownNetns
        var diagnostics: SocketDiagnostics?
        if options.useSocketDiagnostics {
            do {
                diagnostics = try SocketDiagnostics()
            } catch {
                logger.notice("sock_diag unavailable; sockets come from /proc/net tables", metadata: ["error": "\(error)"])
            }
        }
        lookup.withLock { state in
            state.diagnostics = diagnostics
            state.ownNetns = ownNetns
        }
        seedScan()
    }

    /// Stops the process-event thread and the kernel's socket events. Lookups keep working from /proc afterwards.
    public func stop() {
        kernelEvents.withLock { $0 }?.stop()
        let listener = events.withLock { value -> ProcessEventListener? in
            let old = value
            value = nil
            return old
        }
        listener?.stop()
    }

    /// Whether process identities arrive from kernel events (not only from /proc scans).
    public var usesProcessEvents: Bool { events.withLock { $0 != nil } }

    /// A snapshot of the counters.
    public var statistics: Statistics {
        var stats = lookup.withLock { $0.statistics }
        stats.processEvents = eventCount.load(ordering: .relaxed)
        stats.processesKnown = processes.withLock { $0.count }
        stats.usesProcessEvents = usesProcessEvents
        stats.eventOverruns = events.withLock { $0?.overruns.load(ordering: .relaxed) ?? 0 }
        return stats
    }

    /// The processes that exited since the last call (from the kernel's process events), with when
    /// they exited, in nanoseconds since the Unix epoch (as capture timestamps are).
    public func takeExitedProcesses() -> [(pid: Int32, at: Int64)] {
        exits.withLock { list in
            exitsWaiting.store(false, ordering: .relaxed)
            defer { list.removeAll(keepingCapacity: true) }
            return list
        }
    }

    /// Whether processes exited since the last `takeExitedProcesses()`: cheap enough to ask before
    /// every packet, so that a packet sent after an exit is counted knowing of it.
    public var hasExitedProcesses: Bool { exitsWaiting.load(ordering: .acquiring) }

    /// The identity of a live or recently ended process, as captured (nil when unknown or pid reused).
    public func identity(pid: Int32, startTime: UInt64? = nil) -> ProcessIdentity? {
        processes.withLock { table in
            if let startTime { return table.record(pid: pid, startTime: startTime)?.identity }
            return table.latest(pid: pid)?.identity
        }
    }

    // MARK: - Process events

    private func handle(_ event: NetlinkMessages.ProcessEvent) {
        eventCount.add(1, ordering: .relaxed)
        let now = SystemClock.wallNanoseconds()
        switch event {
        case .fork(_, let child), .exec(let child):
            // Read the identity right away: the process may be gone a few milliseconds from now.
            capture(pid: child, now: now)
        case .exit(let pid, let monotonicTime):
            processes.withLock { $0.markExited(pid: pid, at: now) }
            // The kernel's time of the exit, on the wall clock: the event may be read a while later.
            let at = monotonicTime > 0 ? min(now, monotonicTime + (now - SystemClock.monotonicNanoseconds())) : now
            exits.withLock {
                if $0.count < 100_000 { $0.append((pid, at)) }
                exitsWaiting.store(true, ordering: .releasing)
            }
        case .other:
            break
        }
    }

    /// Reads a process's identity and records it; nil when it is already gone.
    @discardableResult
    func capture(pid: Int32, now: Int64, seeding: Bool = false) -> ProcessRecord? {
        guard var record = reader.read(pid: pid, now: now, ancestors: { ancestor in
            self.processes.withLock { $0[ancestor]?.identity }
        }) else { return nil }
        // Processes found by the first scan are not "young": they are scanned first on no miss.
        if seeding { record.captured = 0 }
        processes.withLock { $0.insert(record) }
        return record
    }

    private func seedScan() {
        let now = SystemClock.wallNanoseconds()
        // Parents first (lower pids usually), so ancestry comes from the table.
        for pid in proc.pids().sorted() { capture(pid: pid, now: now, seeding: true) }
        let table = processes.withLock { $0.records }
        let monotonic = SystemClock.monotonicNanoseconds()
        // One process at a time: a lookup waiting for the lock waits for one directory, not the scan.
        for (pid, record) in table {
            lookup.withLock { state in
                state.index.scan(pid: pid, startTime: record.identity.startTime, proc: proc, now: monotonic)
            }
        }
        lookup.withLock { state in
            state.lastFullScan = monotonic
            state.statistics.fdDirectoriesRead = state.index.directoriesRead
        }
        logger.debug("seeded the process table", metadata: ["processes": "\(table.count)"])
    }
}
