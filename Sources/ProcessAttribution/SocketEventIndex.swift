public import PacketParsing

/// What the kernel's socket events said about which process used which socket, kept so that a flow
/// can be joined to its owner by its endpoints, even after the socket and the process are gone.
///
/// A plain value with no I/O; `KernelSocketEvents` feeds it and the attributor queries it, under one lock.
///
/// The programs report a socket once (not once per packet), so a key may hold the reports of several
/// sockets that used it in turn (a UDP port taken again by another process a minute later). A flow
/// belongs to the latest report no later than shortly after the flow's first packet: the new owner
/// of a reused port reports before (or while) it sends, never long after.
public struct SocketEventIndex: Sendable {
    /// A process that used a socket, as reported in its own context.
    public struct Owner: Sendable, Equatable, Hashable {
        public var pid: Int32
        public var startTime: UInt64
        public var comm: String
        public var netns: UInt64
    }

    /// What the index knows about a flow's local end.
    public enum Match: Sendable, Equatable {
        /// The owner, with the socket's cookie and when it reported (zero for raw and packet sends).
        case owner(Owner, cookie: UInt64 = 0, reportedAt: Int64 = 0)
        /// Several processes wrote matching packets in the window (raw or packet sockets).
        case ambiguous
        case none
        /// Only a report older than the flow matches, and the ring has not been read since: the
        /// flow's own socket may not have reported yet. Ask again a little later.
        case unsettled
    }

    /// The executable a process started, from its exec event.
    public struct Exec: Sendable, Equatable {
        public var path: String
        public var comm: String
        public var ppid: Int32
        public var time: Int64
    }

    struct Report: Sendable {
        var owner: Owner
        var cookie: UInt64
        var time: Int64
        var localAddress: IPAddress
        var remoteAddress: IPAddress
        var remotePort: UInt16
    }

    struct TupleKey: Hashable, Sendable {
        var ipProtocol: UInt8
        var local: IPAddress
        var localPort: UInt16
        var remote: IPAddress
        var remotePort: UInt16
    }

    struct PortKey: Hashable, Sendable {
        var ipProtocol: UInt8
        var localPort: UInt16
    }

    struct Send: Sendable {
        var owner: Owner
        var time: Int64
        var ipProtocol: UInt8
        var bytes: UInt32
        var isPacketSocket: Bool
    }

    struct PidStart: Hashable, Sendable {
        var pid: Int32
        var startTime: UInt64
    }

    private var byTuple: [TupleKey: [Report]] = [:]
    private var byPort: [PortKey: [Report]] = [:]
    /// Recent sends of raw and packet sockets, oldest first.
    private var sends: [Send] = []
    private var sendsHead = 0
    private var execs: [PidStart: Exec] = [:]
    private var lastExpiry: Int64 = 0

    /// How long a report is kept after it was made.
    public var retention: Int64 = 600_000_000_000
    /// Reports per key kept (a port reused by several sockets in turn).
    static let reportsPerKey = 4
    static let sendCapacity = 4_096
    static let execCapacity = 65_536

    /// Reports applied since the start.
    public private(set) var applied: Int64 = 0

    public init() {}

    /// Tuples and ports currently known.
    public var count: Int { byTuple.count + byPort.count }

    // MARK: - Feeding

    public mutating func apply(_ event: SocketEvent) {
        applied += 1
        let owner = Owner(pid: event.pid, startTime: event.startTime, comm: event.comm, netns: event.netns)
        switch event.kind {
        case .exec:
            guard let path = event.path else { return }
            if execs.count >= SocketEventIndex.execCapacity { expireExecs(keeping: SocketEventIndex.execCapacity / 2) }
            execs[PidStart(pid: event.pid, startTime: event.startTime)] = Exec(
                path: path, comm: event.comm, ppid: event.ppid, time: event.time)
        case .socket:
            switch event.socketClass {
            case .rawIP, .packet:
                sends.append(Send(
                    owner: owner, time: event.time, ipProtocol: event.ipProtocol, bytes: event.bytes,
                    isPacketSocket: event.socketClass == .packet))
                if sends.count - sendsHead > SocketEventIndex.sendCapacity { sendsHead += 1 }
                if sendsHead > SocketEventIndex.sendCapacity {
                    sends.removeFirst(sendsHead)
                    sendsHead = 0
                }
            case .ported:
                let local = SocketEventIndex.normal(event.localAddress)
                let remote = SocketEventIndex.normal(event.remoteAddress)
                let report = Report(
                    owner: owner, cookie: event.cookie, time: event.time, localAddress: local, remoteAddress: remote,
                    remotePort: event.remotePort)
                if event.remotePort != 0 || !remote.isUnspecified {
                    SocketEventIndex.add(report, to: &byTuple[TupleKey(
                        ipProtocol: event.ipProtocol, local: local, localPort: event.localPort, remote: remote,
                        remotePort: event.remotePort), default: []])
                }
                SocketEventIndex.add(report, to: &byPort[PortKey(ipProtocol: event.ipProtocol, localPort: event.localPort), default: []])
            }
        }
        if event.time - lastExpiry > 10_000_000_000 {
            expire(now: event.time)
        }
    }

    /// Keeps the latest report per socket and a few sockets per key.
    private static func add(_ report: Report, to list: inout [Report]) {
        if let same = list.firstIndex(where: { $0.cookie == report.cookie && $0.owner == report.owner }) {
            list[same] = report
        } else {
            list.append(report)
            if list.count > reportsPerKey { list.removeFirst(list.count - reportsPerKey) }
        }
    }

    /// Forgets reports older than the retention.
    public mutating func expire(now: Int64) {
        lastExpiry = now
        let cutoff = now - retention
        byTuple = byTuple.filter { _, list in list.contains { $0.time >= cutoff } }
        byPort = byPort.filter { _, list in list.contains { $0.time >= cutoff } }
        expireExecs(olderThan: cutoff)
    }

    private mutating func expireExecs(olderThan cutoff: Int64) {
        execs = execs.filter { $0.value.time >= cutoff }
    }

    private mutating func expireExecs(keeping count: Int) {
        let times = execs.values.map(\.time).sorted(by: >)
        guard times.count > count else { return }
        expireExecs(olderThan: times[count])
    }

    // MARK: - Queries

    /// The process behind the local end of a flow that started at `flowStart`.
    ///
    /// - Parameters:
    ///   - horizon: how long after the flow's first packet a report still counts (a receiver reports
    ///     when it reads, which can be a while after the packet arrived).
    ///   - ownNetns: this process's network namespace. A socket bound to every address matches a flow
    ///     whose local address is not this namespace's own only when it lives in another namespace
    ///     (a container's server), never a wildcard socket of this one (a local DNS server on
    ///     0.0.0.0:53 is not the peer of a query to a remote resolver).
    ///   - stillHolds: whether the socket with this cookie (in this namespace) still holds the
    ///     endpoints: asked of a report older than the flow before it is trusted.
    ///   - readUpTo: when the ring was last read in full (events up to then are in the index). A report
    ///     older than the flow may belong to a socket that had the port before: it counts only once the
    ///     ring was read `settle` after the flow began, so that the socket that really sent the flow
    ///     has reported (nil: count it at once).
    public func match(
        _ query: SocketQuery, flowStart: Int64, horizon: Int64, ownNetns: UInt64? = nil, readUpTo: Int64? = nil,
        stillHolds: (_ cookie: UInt64, _ netns: UInt64) -> Bool = { _, _ in true }
    ) -> Match {
        let local = SocketEventIndex.normal(query.localAddress)
        let remote = SocketEventIndex.normal(query.remoteAddress)
        var candidates: [Report] = []
        let proto = query.ipProtocol
        if let exact = byTuple[TupleKey(
            ipProtocol: proto, local: local, localPort: query.localPort, remote: remote, remotePort: query.remotePort)] {
            candidates += exact
        }
        if proto != IPProtocolNumber.tcp, let reports = byPort[PortKey(ipProtocol: proto, localPort: query.localPort)] {
            for report in reports {
                // An unconnected socket (any remote), or one connected to this very peer; bound to this
                // address or to every address.
                let remoteFits = report.remotePort == 0 && report.remoteAddress.isUnspecified
                    || report.remoteAddress == remote && report.remotePort == query.remotePort
                let localFits = report.localAddress == local
                    || report.localAddress.isUnspecified
                        && (query.localAddressIsOwn || local.scope == .loopback || report.owner.netns != ownNetns)
                if remoteFits && localFits { candidates.append(report) }
            }
        }
        candidates.removeAll { $0.time > flowStart + horizon }
        guard !candidates.isEmpty else { return .none }
        func found(_ report: Report) -> Match { .owner(report.owner, cookie: report.cookie, reportedAt: report.time) }

        // 1. A socket that reported as the flow began: its first send (reported as the call returns),
        //    or its first read. Of several (a port taken again right after), the nearest.
        let fresh = candidates.filter { $0.time >= flowStart - SocketEventIndex.before && $0.time <= flowStart + SocketEventIndex.after }
        if let nearest = fresh.min(by: { abs($0.time - flowStart) < abs($1.time - flowStart) }) { return found(nearest) }
        // 2. A socket that reported before: the latest, once the flow's own socket would have reported
        //    (had it been another), and while that very socket still holds the endpoints.
        if let previous = candidates.filter({ $0.time < flowStart }).max(by: { $0.time < $1.time }) {
            if let readUpTo, readUpTo < flowStart + SocketEventIndex.settle { return .unsettled }
            if stillHolds(previous.cookie, previous.owner.netns) { return found(previous) }
        }
        // 3. A socket that reported later: a receiver that read the flow's first packet late, or a
        //    connect that completed a round trip later. The earliest: sockets after it came later still.
        if let next = candidates.filter({ $0.time > flowStart + SocketEventIndex.after }).min(by: { $0.time < $1.time }) {
            return found(next)
        }
        return .none
    }

    /// A report this long before a flow's first packet, or this long after, belongs to the socket
    /// that sent it: the sender reports as its send call returns.
    static let before: Int64 = 1_000_000
    static let after: Int64 = 20_000_000

    /// How long after a flow's first packet the ring must have been read before a report older than
    /// the flow is trusted: the sending process reports when its send call returns.
    public static let settle: Int64 = 10_000_000

    /// The raw IP or packet socket that wrote a flow's first packet, matched by time (and, for packet
    /// sockets, by length): these sockets have no ports to join on.
    public func matchSender(_ query: SocketQuery, flowStart: Int64, firstPacketBytes: Int64) -> Match {
        // A send is reported when the system call returns, just after the packet went out.
        let earliest = flowStart - 20_000_000, latest = flowStart + 200_000_000
        var rawOwners = Set<Owner>(), packetOwners = Set<Owner>()
        for send in sends[sendsHead...] where send.time >= earliest && send.time <= latest {
            if send.isPacketSocket {
                let linkHeader = Int64(send.bytes) - firstPacketBytes
                if firstPacketBytes == 0 || [0, 14, 18, 22].contains(linkHeader) { packetOwners.insert(send.owner) }
            } else if send.ipProtocol == query.ipProtocol || send.ipProtocol == 255 {
                rawOwners.insert(send.owner)
            }
        }
        let owners = rawOwners.isEmpty ? packetOwners : rawOwners
        if owners.count > 1 { return .ambiguous }
        if let only = owners.first { return .owner(only) }
        return .none
    }

    /// What the exec event of a process said, if it was seen.
    public func exec(pid: Int32, startTime: UInt64) -> Exec? {
        execs[PidStart(pid: pid, startTime: startTime)]
    }

    /// IPv4-mapped IPv6 addresses as IPv4, as the capture names them.
    static func normal(_ address: IPAddress) -> IPAddress {
        address.unmappedV4 ?? address
    }
}
