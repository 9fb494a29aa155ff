import Logging
import PacketParsing
import Posix
import Synchronization

/// What lookups own: the sock_diag socket, the inode index, the sticky cache and the hash cache.
/// Guarded by `Attributor.lookup`.
struct LookupState: ~Copyable {
    /// A remembered owner: the process by pid and start time (its identity stays in the process
    /// table, which keeps ended processes as long), so 100,000 remembered sockets stay small.
    struct Sticky {
        var pid: Int32
        var startTime: UInt64
        var lastUsed: Int64
    }

    var diagnostics: SocketDiagnostics?
    var ownNetns: UInt64?
    var index = SocketInodeIndex()
    var sticky: [SocketQuery: Sticky] = [:]
    var stickyOrder: [(SocketQuery, Int64)] = []
    var lastFullScan: Int64 = 0
    var statistics = Attributor.Statistics()
    /// Other namespaces' socket tables by protocol, reused for a few milliseconds: a flood of flows
    /// that match no socket here must not re-read every namespace's tables for each flow.
    var foreignTables: [UInt8: ForeignTables] = [:]
}

/// The socket tables of the machine's other network namespaces for one protocol, as read at `readAt`.
struct ForeignTables {
    var readAt: Int64
    var namespaces: [(pids: [Int32], entries: [SocketEntry])]
}

extension Attributor {
    /// Attributes one flow. Call it as soon as the flow starts (its first packet), from the attribution
    /// worker: the sooner it runs, the likelier a short-lived process is still holding its socket.
    ///
    /// - Parameters:
    ///   - query: the flow's protocol and endpoints, local side first.
    ///   - time: the flow's first packet time, in nanoseconds since the Unix epoch (capture clock).
    public func attribute(_ query: SocketQuery, at time: Int64) -> Attribution {
        lookup.withLock { state in
            state.statistics.queries += 1
            let result = resolve(query, at: time, state: &state)
            if case .process = result { state.statistics.attributed += 1 }
            state.statistics.fdDirectoriesRead = state.index.directoriesRead
            return result
        }
    }

    private func resolve(_ query: SocketQuery, at time: Int64, state: inout LookupState) -> Attribution {
        let now = SystemClock.wallNanoseconds()
        let key = query.endpoints
        if query.hint == .rawFrame { return .unattributed(.rawFrame) }

        let candidates = sockets(for: query, state: &state)
        if !candidates.isEmpty {
            switch owner(of: candidates, state: &state) {
            case .found(let identity):
                let identity = withHash(identity, state: &state)
                remember(key, identity, now: now, state: &state)
                return .process(identity)
            case .ambiguous:
                return .unattributed(.ambiguous)
            case .gone:
                if !query.opensConnection, let sticky = stickyIdentity(key, now: now, state: &state) { return .process(sticky) }
                return .unattributed(.processExited)
            }
        }
        // A connection opened here is a new socket: the owner of an earlier one on the same endpoints
        // (a program that closed it, and whose port another program took) is not its owner.
        if !query.opensConnection, let sticky = stickyIdentity(key, now: now, state: &state) { return .process(sticky) }
        switch query.hint {
        case .icmpError, .tcpResetFromLocal:
            return .unattributed(.kernel)
        case .initiatedRemotely where query.ipProtocol == IPProtocolNumber.icmp || query.ipProtocol == IPProtocolNumber.icmpv6:
            return .unattributed(.kernel)  // the kernel answers echo requests itself
        default:
            break
        }
        if !query.localAddressIsOwn, let foreign = otherNamespaceOwner(of: query, state: &state) {
            if options.attributeOtherNamespaces, let identity = foreign {
                let identity = withHash(identity, state: &state)
                remember(key, identity, now: now, state: &state)
                return .process(identity)
            }
            return .unattributed(.otherNetns)
        }
        switch query.ipProtocol {
        case IPProtocolNumber.icmp, IPProtocolNumber.tcp, IPProtocolNumber.udp, IPProtocolNumber.icmpv6, IPProtocolNumber.sctp,
            IPProtocolNumber.udpLite:
            break
        default: return .unattributed(.rawFrame)
        }
        // No socket now; if a process ended since the flow began, its socket most likely went with it.
        let lastExit = processes.withLock { $0.lastExit }
        if query.hint != .initiatedRemotely, usesProcessEvents, lastExit >= time - 1_000_000_000 {
            return .unattributed(.processExited)
        }
        return .unattributed(.noSocket)
    }

    // MARK: - Sockets

    /// The best-matching sockets in this machine's own network namespace.
    private func sockets(for query: SocketQuery, state: inout LookupState) -> [SocketEntry] {
        let proto = query.ipProtocol
        if let diagnostics = state.diagnostics, proto == IPProtocolNumber.tcp || proto == IPProtocolNumber.udp {
            do {
                if let entry = try diagnostics.exact(
                    ipProtocol: proto, local: query.localAddress, localPort: query.localPort,
                    remote: query.remoteAddress, remotePort: query.remotePort) {
                    return [entry]
                }
                return []
            } catch {
                logger.debug("sock_diag lookup failed; reading /proc/net", metadata: ["error": "\(error)"])
            }
        }
        var entries: [SocketEntry] = []
        if proto == IPProtocolNumber.sctp {
            if let diagnostics = state.diagnostics, !diagnostics.unsupported.contains(132) {
                for v6 in [false, true] { entries += (try? diagnostics.dump(ipProtocol: IPProtocolNumber.sctp, v6: v6)) ?? [] }
            }
            return SocketMatcher.best(for: query, in: entries + rawSockets(proc: proc, prefix: "net"))
        }
        for kind in SocketTableKind.tables(for: proto) {
            if let text = proc.readText("net/" + kind.rawValue) { entries += SocketTable.parse(text, kind: kind).entries }
        }
        if proto != IPProtocolNumber.icmp && proto != IPProtocolNumber.icmpv6 && proto != IPProtocolNumber.tcp && proto != IPProtocolNumber.udp {
            return SocketMatcher.best(for: query, in: entries)
        }
        if proto == IPProtocolNumber.icmp || proto == IPProtocolNumber.icmpv6 {
            // Ping sockets (exact identifier) beat raw sockets, which see every ICMP packet.
            let ping = SocketMatcher.best(for: query, in: entries.filter { $0.ipProtocol != 255 })
            if !ping.isEmpty { return ping }
            return SocketMatcher.best(for: query, in: entries.filter { $0.ipProtocol == 255 })
        }
        return SocketMatcher.best(for: query, in: entries)
    }

    private func rawSockets(proc: ProcFileSystem, prefix: String) -> [SocketEntry] {
        [SocketTableKind.raw, .raw6].flatMap { kind in
            proc.readText(prefix + "/" + kind.rawValue).map { SocketTable.parse($0, kind: kind).entries } ?? []
        }
    }

    // MARK: - Owners

    private enum Owner {
        case found(ProcessIdentity)
        case ambiguous
        case gone
    }

    /// The process holding the candidates' inodes; several different processes are ambiguous.
    private func owner(of candidates: [SocketEntry], state: inout LookupState) -> Owner {
        var found: [Int32: ProcessIdentity] = [:]
        for entry in candidates where entry.inode != 0 {
            if let identity = process(holding: entry.inode, uid: entry.uid, state: &state) { found[identity.pid] = identity }
        }
        if found.count > 1 { return .ambiguous }
        if let only = found.values.first { return .found(only) }
        return .gone
    }

    /// Finds the process holding `inode`: the index first, then young processes, then (rate-limited) everyone.
    private func process(holding inode: UInt64, uid: UInt32, state: inout LookupState) -> ProcessIdentity? {
        let monotonic = SystemClock.monotonicNanoseconds()
        if let owner = state.index.owner(of: inode), let identity = liveIdentity(owner, state: &state) {
            return identity
        }
        let now = SystemClock.wallNanoseconds()
        // Processes that started lately are the likeliest owners; then pids in /proc the table lacks
        // (the connector thread may not have read a process that exec'd a moment ago, and without the
        // connector this is how new processes are found).
        var scanned = Set<Int32>()
        for round in 0..<2 {
            // The second round also catches processes the event thread recorded during the first.
            var list = round == 1 ? newProcesses(now: now) : []
            list += processes.withLock { $0.pids(capturedSince: now - options.youngWindow) }
            for pid in list where scanned.insert(pid).inserted {
                if round == 0, let last = state.index.lastScan(of: pid), monotonic - last < 2_000_000 { continue }
                guard let record = processes.withLock({ $0[pid] }) else { continue }
                if state.index.scan(pid: pid, startTime: record.identity.startTime, proc: proc, now: monotonic, wanted: inode),
                   let owner = state.index.owner(of: inode), let identity = liveIdentity(owner, state: &state) {
                    return identity
                }
            }
        }
        guard monotonic - state.lastFullScan >= options.fullScanInterval else { return nil }
        state.lastFullScan = monotonic
        let everyone = processes.withLock { table in
            table.records.values.map { ($0.identity.pid, $0.identity.startTime, $0.identity.uid) }
        }
        // The socket's owner very likely has the socket's uid: those processes go first.
        let ordered = everyone.filter { $0.2 == uid } + everyone.filter { $0.2 != uid }
        for (pid, startTime, _) in ordered {
            if state.index.scan(pid: pid, startTime: startTime, proc: proc, now: monotonic, wanted: inode),
               let owner = state.index.owner(of: inode), let identity = liveIdentity(owner, state: &state) {
                return identity
            }
        }
        return nil
    }

    /// Processes in /proc that the table does not know (no connector, or lost events); captures them.
    private func newProcesses(now: Int64) -> [Int32] {
        let known = processes.withLock { table in Set(table.records.keys) }
        let live = proc.pids()
        let liveSet = Set(live)
        let fresh = live.filter { !known.contains($0) }
        for pid in fresh { capture(pid: pid, now: now) }
        for pid in known where !liveSet.contains(pid) { processes.withLock { $0.forget(pid: pid, at: now) } }
        return fresh.sorted(by: >)
    }

    /// The identity of an index owner if that exact process (pid and start time) is known.
    private func liveIdentity(_ owner: SocketInodeIndex.Owner, state: inout LookupState) -> ProcessIdentity? {
        if let record = processes.withLock({ $0.record(pid: owner.pid, startTime: owner.startTime) }) {
            // The process may have exec'd since it was captured (a fork not yet followed by its exec
            // event, or an exec chain the event thread has not caught up with): exec keeps the pid and
            // start time but changes the program, so the executable link must still agree.
            if record.exited != nil || proc.readLink("\(owner.pid)/exe") == record.identity.exe {
                return record.identity
            }
        }
        // Not in the table (scan raced an exec): read it now, and accept it only with the same start time.
        if let record = capture(pid: owner.pid, now: SystemClock.wallNanoseconds()), record.identity.startTime == owner.startTime {
            return record.identity
        }
        state.index.forget(pid: owner.pid)
        return nil
    }

    // MARK: - Other namespaces

    /// Reads, for each other network namespace with a known process, its tables for one protocol.
    private func readForeignTables(ipProtocol: UInt8, own: UInt64?, now: Int64) -> ForeignTables {
        var byNamespace = processes.withLock { table -> [UInt64: [Int32]] in
            var groups: [UInt64: [Int32]] = [:]
            for record in table.records.values {
                guard let netns = record.identity.netns, netns != own else { continue }
                groups[netns, default: []].append(record.identity.pid)
            }
            return groups
        }
        // Processes the table does not hold yet (their exec event still queued, under load) may be
        // the only ones in a namespace made a moment ago: find their namespaces from /proc itself.
        var known = Set(byNamespace.values.joined())
        processes.withLock { table in for pid in table.records.keys { known.insert(pid) } }
        for pid in proc.pids() where !known.contains(pid) {
            guard let link = proc.readLink("\(pid)/ns/net"), let netns = ProcText.inode(inLink: link, kind: "net"), netns != own,
                  byNamespace[netns] == nil else { continue }
            byNamespace[netns] = [pid]
        }
        var namespaces: [(pids: [Int32], entries: [SocketEntry])] = []
        for (_, pids) in byNamespace {
            guard let reader = pids.first else { continue }
            var entries: [SocketEntry] = []
            for kind in SocketTableKind.tables(for: ipProtocol) {
                if let text = proc.readText("\(reader)/net/\(kind.rawValue)") { entries += SocketTable.parse(text, kind: kind).entries }
            }
            namespaces.append((pids, entries))
        }
        return ForeignTables(readAt: now, namespaces: namespaces)
    }

    /// Whether some namespace's cached table has a socket for the query (either way round).
    static func anyMatch(_ query: SocketQuery, in tables: ForeignTables?) -> Bool {
        guard let tables else { return false }
        let swapped = query.reversed
        return tables.namespaces.contains { namespace in
            !SocketMatcher.best(for: query, in: namespace.entries).isEmpty
                || !SocketMatcher.best(for: swapped, in: namespace.entries).isEmpty
        }
    }

    /// Looks for the flow's socket in the other network namespaces of this machine (through
    /// `/proc/PID/net` of one process per namespace). nil: not found; `.some(nil)`: found, owner unknown.
    private func otherNamespaceOwner(of query: SocketQuery, state: inout LookupState) -> ProcessIdentity?? {
        let monotonicNow = SystemClock.monotonicNanoseconds()
        // Reuse tables read within 50 ms; re-read sooner (at most every 10 ms) when they miss, so a
        // socket opened a moment ago in a container is still found.
        var tables = state.foreignTables[query.ipProtocol]
        let age = tables.map { monotonicNow - $0.readAt } ?? .max
        if age >= 50_000_000 || (age >= 10_000_000 && !Self.anyMatch(query, in: tables)) {
            tables = readForeignTables(ipProtocol: query.ipProtocol, own: state.ownNetns, now: monotonicNow)
            state.foreignTables[query.ipProtocol] = tables
        }
        guard let tables else { return nil }
        // Seen from this namespace's capture, either end may be some namespace's own. The flow's own
        // end first, in every namespace: a routed flow from a container to a server in another
        // namespace matches the server's listening socket the other way round, and which namespace
        // is looked at first must not decide whose flow it is.
        for orientation in [query, query.reversed] {
            if let found = owner(of: orientation, in: tables, state: &state) { return found }
        }
        return nil
    }

    /// The owner of the socket `query` names in the first of `tables`' namespaces that holds one.
    private func owner(of query: SocketQuery, in tables: ForeignTables, state: inout LookupState) -> ProcessIdentity?? {
        for (pids, entries) in tables.namespaces {
            let matches = SocketMatcher.best(for: query, in: entries)
            guard !matches.isEmpty else { continue }
            if !matches.contains(where: { $0.inode != 0 && state.index.owner(of: $0.inode) != nil }) {
                // Only sockets the index does not know yet cost a scan of the namespace's processes.
                let monotonic = SystemClock.monotonicNanoseconds()
                for pid in pids {
                    guard let record = processes.withLock({ $0[pid] }) else { continue }
                    state.index.scan(pid: pid, startTime: record.identity.startTime, proc: proc, now: monotonic)
                }
            }
            var owners = Set<Int32>()
            var identity: ProcessIdentity?
            for entry in matches where entry.inode != 0 {
                if let owner = state.index.owner(of: entry.inode), let found = liveIdentity(owner, state: &state) {
                    owners.insert(found.pid)
                    identity = found
                }
            }
            return owners.count == 1 ? .some(identity) : .some(nil)
        }
        return nil
    }

    // MARK: - Sticky cache and hashes

    private func remember(_ key: SocketQuery, _ identity: ProcessIdentity, now: Int64, state: inout LookupState) {
        if state.sticky[key] == nil { state.stickyOrder.append((key, now)) }
        state.sticky[key] = LookupState.Sticky(pid: identity.pid, startTime: identity.startTime, lastUsed: now)
        // Expire in insertion order; an entry used since gets re-queued.
        var drop = 0
        while drop < state.stickyOrder.count, now - state.stickyOrder[drop].1 > options.stickyLifetime {
            let (old, _) = state.stickyOrder[drop]
            if let entry = state.sticky[old], now - entry.lastUsed > options.stickyLifetime {
                state.sticky[old] = nil
            } else if let entry = state.sticky[old] {
                state.stickyOrder.append((old, entry.lastUsed))
            }
            drop += 1
        }
        // Bounded too: past the cap the oldest go first, whatever their age.
        while state.sticky.count > 32_768, drop < state.stickyOrder.count {
            state.sticky[state.stickyOrder[drop].0] = nil
            drop += 1
        }
        if drop > 0 { state.stickyOrder.removeFirst(drop) }
    }

    private func stickyIdentity(_ key: SocketQuery, now: Int64, state: inout LookupState) -> ProcessIdentity? {
        guard var entry = state.sticky[key], now - entry.lastUsed <= options.stickyLifetime else { return nil }
        entry.lastUsed = now
        guard let identity = processes.withLock({ $0.record(pid: entry.pid, startTime: entry.startTime)?.identity }) else {
            return nil
        }
        state.sticky[key] = entry
        state.statistics.stickyHits += 1
        return identity
    }

    /// Fills in the executable's hash (once per device, inode and mtime), reading the running
    /// process's own executable so that a replaced file is not hashed in its place.
    /// The identity with its executable's hash when the hash is known already; never reads the file,
    /// so that a lookup is never held up by hashing a large executable.
    private func withHash(_ identity: ProcessIdentity, state: inout LookupState) -> ProcessIdentity {
        guard identity.sha256 == nil else { return identity }
        var identity = identity
        let record = processes.withLock { $0.record(pid: identity.pid, startTime: identity.startTime) }
        if let stamp = record?.exeStamp, let cached = hashing.withLock({ $0.cached(stamp) }) {
            identity.sha256 = cached
        }
        return identity
    }

    /// The identity with its executable's sha256, hashing the file when needed (cached by device,
    /// inode and modification time). Call it off the lookup path: a large executable takes a while.
    public func withExeHash(_ identity: ProcessIdentity) -> ProcessIdentity {
        guard identity.sha256 == nil else { return identity }
        var identity = identity
        let record = processes.withLock { $0.record(pid: identity.pid, startTime: identity.startTime) }
        // The running image when the process is alive, else the path if it is still the same file.
        var path: String?
        if let live = ProcFileSystem.stamp(atPath: proc.path("\(identity.pid)/exe")), record?.exeStamp == nil || record?.exeStamp == live {
            path = proc.path("\(identity.pid)/exe")
        } else if let exe = identity.exe, let stamp = record?.exeStamp, ProcFileSystem.stamp(atPath: exe) == stamp {
            path = exe
        }
        guard let path, let stamp = ProcFileSystem.stamp(atPath: path) else { return identity }
        if let cached = hashing.withLock({ $0.cached(stamp) }) {
            identity.sha256 = cached
        } else if stamp.size <= 512 << 20, let digest = try? FileDigest.sha256(ofFileAt: path) {
            hashing.withLock { $0.store(digest, for: stamp) }
            identity.sha256 = digest
        }
        if let hash = identity.sha256 {
            processes.withLock { table in
                if var stored = table.record(pid: identity.pid, startTime: identity.startTime), stored.exited == nil {
                    stored.identity.sha256 = hash
                    table.insert(stored)
                }
            }
        }
        return identity
    }
}
