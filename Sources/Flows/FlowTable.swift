public import PacketParsing

/// Aggregates decoded packets into bidirectional flows and hands out the flows that end.
///
/// A value owned by one thread (the capture loop): no locks, no allocation per packet once the
/// dictionary has grown. Ended, started and updated flows accumulate in buffers that the owner
/// drains after each batch of packets.
public struct FlowTable: Sendable {
    public struct Counters: Sendable, Equatable {
        public var packets: Int64 = 0
        public var flowsStarted: Int64 = 0
        public var flowsEnded: Int64 = 0
        /// Flows pushed out early because the table was full.
        public var flowsEvicted: Int64 = 0
        /// Later fragments whose first fragment was never seen: counted into a portless flow.
        public var orphanFragments: Int64 = 0
        /// Packets not counted because they were another copy of a packet already counted: the same
        /// packet on a second interface of this machine (routed or bridged), or after address
        /// translation.
        public var copies: Int64 = 0
        /// Flows recognised as another flow after address translation (never handed out).
        public var translatedFlows: Int64 = 0
        public init() {}
    }

    public let timeouts: FlowTimeouts
    public let capacity: Int
    public private(set) var counters = Counters()

    /// Flows that ended since the last drain.
    public var ended: [FlowRecord] = []
    /// Flows that started since the last drain (only when `reportsStarts`).
    public var started: [FlowRecord] = []
    /// Still-open flows handed out by the active timeout since the last drain.
    public var updated: [FlowRecord] = []
    public var reportsStarts: Bool

    /// Where each open flow's record is in `records`. Records live in one array, not in the
    /// dictionary, so that the hash table's slots stay small: it is the table that doubles as flows
    /// arrive, and a slot holding a whole record made 100,000 flows cost about 90 MB.
    var index: FlowIndex
    var records: ContiguousArray<FlowRecord> = []
    var fragmentPorts: [FragmentKey: (UInt16, UInt16)] = [:]
    var uidGenerator: SplitMix64
    var nextSweep: Int64 = .min
    /// Recent incoming packets by fingerprint, to know a translated copy on its way out.
    var arrivals = ArrivalIndex()
    /// Processes that exited lately, with when (nanoseconds since the epoch). A datagram flow's
    /// packet from its originator sent after the flow's owner exited is another socket's, one that
    /// took the same address and port at once: it starts a flow of its own.
    var exitedOwners: [Int32: Int64] = [:]
    /// How long after its owner exited a datagram flow stays open for what was sent before (packets
    /// still on their way through the capture ring, replies).
    public static let exitGrace: Int64 = 300_000_000
    /// How long an exit is remembered for packets that come after it.
    static let exitMemory: Int64 = 2_000_000_000

    
    struct FragmentKey: Hashable, Sendable {
        let source: IPAddress
        let destination: IPAddress
        let identifier: UInt32
        let ipProtocol: UInt8
    }

    /// - Parameters:
    ///   - uidSeed: seeds the flow uids; equal seeds and input give equal uids (tests, replay).
    ///   - capacity: the most flows held at once; beyond it the least recently active are evicted.
    public init(timeouts: FlowTimeouts = FlowTimeouts(), capacity: Int = 1_000_000, uidSeed: UInt64, reportsStarts: Bool = false) {
        self.timeouts = timeouts
        self.capacity = max(16, capacity)
        self.uidGenerator = SplitMix64(seed: uidSeed)
        self.index = FlowIndex(seed: UInt64.random(in: .min ... .max))
        self.reportsStarts = reportsStarts
    }

    /// The number of open flows.
    public var count: Int { records.count }

    /// The open flows, in no particular order.
    public var openFlows: some Collection<FlowRecord> { records }

    /// Counts one decoded packet into its flow, expiring idle flows as packet time advances. Returns
    /// false when the packet was a copy of one already counted (see `Counters.copies`).
    @discardableResult
    public mutating func ingest(_ packet: PacketSummary) -> Bool {
        counters.packets += 1
        if packet.timestamp >= nextSweep {
            expire(now: packet.timestamp)
        }
        // Only a fragment is changed (its ports): any other packet is read where it lies, as a copy
        // of the summary into a variable cost a tenth of the flow table's time.
        if packet.isFragment {
            var p = packet
            resolveFragmentPorts(&p)
            return count(p)
        }
        return count(packet)
    }

    private mutating func count(_ p: PacketSummary) -> Bool {
        let (key, fromLow) = FlowKey.of(p)
        if p.copyFingerprint != 0 && p.linkDirection == .incoming {
            arrivals.note(p, key: key)
        }
        if let position = index.find(key, in: records),
           exitedOwners.isEmpty || !endIfSentAfterOwnerExited(p, fromLow: fromLow, at: Int(position)),
           !endIfNewConnection(p, at: Int(position)) {
            if records[Int(position)].isTranslatedCopy {
                if p.timestamp > records[Int(position)].end { records[Int(position)].end = p.timestamp }
                counters.copies += 1
                return false
            }
            guard FlowTable.update(&records[Int(position)], with: p, fromLow: fromLow) else {
                counters.copies += 1
                return false
            }
            return true
        }
        if records.count >= capacity { evictOldest() }
        var record = FlowRecord(uid: nextUID(), key: key, first: p)
        if p.copyFingerprint != 0 && p.linkDirection == .outgoing, let inside = arrivals.forwardedCopy(of: p) {
            // The first packet of this flow came in on another interface a moment ago with other
            // addresses: the flow is a translated flow's outside half, already counted there.
            if let position = index.find(inside, in: records) { records[Int(position)].isRouted = true }
            record.isTranslatedCopy = true
            counters.copies += 1
            counters.translatedFlows += 1
            records.append(record)
            index.insert(Int32(records.count - 1), in: records)
            return false
        }
        if record.isICMP && ICMPKind.isReply(p.icmpType, v6: p.ipProtocol == IPProtocolNumber.icmpv6) {
            // The first packet seen is a reply: its receiver asked. Turn the record before counting:
            // on loopback both ends share an address and the reply's type alone puts it on the
            // responder's side, so flipping after counting would move it to the originator's.
            record.flipRoles()
            FlowTable.update(&record, with: p, fromLow: fromLow)
        } else {
            FlowTable.update(&record, with: p, fromLow: fromLow)
            if p.ipProtocol == IPProtocolNumber.tcp && p.tcpFlags & 0x12 == 0x12 {
                // The first packet seen is a SYN-ACK: its receiver started the connection.
                record.flipRoles()
            }
        }
        counters.flowsStarted += 1
        if reportsStarts { started.append(record) }
        records.append(record)
        index.insert(Int32(records.count - 1), in: records)
        return true
    }

    /// Whether a packet comes from the flow's originator. With two addresses the key's side settles it,
    /// read from one stored property: calling a method of the record here copied all of it for every
    /// packet.
    @inline(__always)
    static func isFromOriginator(_ r: inout FlowRecord, _ p: PacketSummary, fromLow: Bool) -> Bool {
        p.source != p.destination ? fromLow == r.originatorIsLow : r.isFromOriginator(p)
    }

    /// Ends the flow at `position` when it is a datagram flow whose owner exited before its originator
    /// sent this packet (the packet is then the first of a new flow); true when it did.
    private mutating func endIfSentAfterOwnerExited(_ p: PacketSummary, fromLow: Bool, at position: Int) -> Bool {
        guard FlowTable.endsWithOwner(records[position].key.ipProtocol), let owner = records[position].ownerProcess,
              let exitedAt = exitedOwners[owner.pid], p.timestamp > exitedAt,
              FlowTable.isFromOriginator(&records[position], p, fromLow: fromLow)
        else { return false }
        handOutEnded(at: position, reason: .ownerExited)
        remove(positions: [position])
        return true
    }

    /// Ends the TCP flow at `position` when this packet opens a new connection on its addresses and
    /// ports: a SYN without ACK after the flow closed (FIN both ways, or a reset). The new
    /// connection may belong to another program that took the same port; merged into the old flow,
    /// its bytes would be recorded under the old program's name.
    @inline(__always)
    private mutating func endIfNewConnection(_ p: PacketSummary, at position: Int) -> Bool {
        guard p.ipProtocol == IPProtocolNumber.tcp, p.tcpFlags & 0x12 == 0x02, !p.isLaterFragment, records[position].isClosed
        else { return false }
        handOutEnded(at: position, reason: .closed)
        remove(positions: [position])
        return true
    }

    /// Counts a packet into its flow; false when it is a copy of a packet counted on another interface.
    /// `fromLow`: whether the packet travels from the key's low endpoint (`FlowKey.of`).
    @discardableResult
    static func update(_ r: inout FlowRecord, with p: PacketSummary, fromLow: Bool) -> Bool {
        let fromOriginator = isFromOriginator(&r, p, fromLow: fromLow)
        if p.interfaceIndex != 0 {
            let counted = fromOriginator ? r.originatorInterface : r.responderInterface
            if counted != p.interfaceIndex {
                // A packet on a second interface while the first still carries the flow is the same
                // packet crossing this machine; after a second of silence the flow has moved instead.
                if counted != 0 && p.timestamp &- r.end < FlowTimeouts.second {
                    r.isRouted = true
                    return false
                }
                if fromOriginator { r.originatorInterface = p.interfaceIndex } else { r.responderInterface = p.interfaceIndex }
            }
        }
        if fromOriginator {
            r.originatorBytes += Int64(p.ipLength)
            r.originatorPackets += 1
        } else {
            r.responderBytes += Int64(p.ipLength)
            r.responderPackets += 1
        }
        if p.timestamp > r.end { r.end = p.timestamp }
        if p.timestamp < r.start { r.start = p.timestamp }
        guard p.ipProtocol == IPProtocolNumber.tcp, !p.isLaterFragment else { return true }
        let flags = p.tcpFlags
        let syn = flags & 0x02 != 0, ack = flags & 0x10 != 0, fin = flags & 0x01 != 0, rst = flags & 0x04 != 0
        if syn && ack {
            r.history.record(.synAck, fromOriginator: fromOriginator)
            if fromOriginator { r.originatorTCP.synAck = true } else { r.responderTCP.synAck = true }
        } else if syn {
            r.history.record(.syn, fromOriginator: fromOriginator)
            if fromOriginator { r.originatorTCP.syn = true } else { r.responderTCP.syn = true }
        }
        if p.payloadLength > 0 {
            r.history.record(.data, fromOriginator: fromOriginator)
        } else if ack && !syn && !fin && !rst {
            r.history.record(.ack, fromOriginator: fromOriginator)
        }
        if fin {
            r.history.record(.fin, fromOriginator: fromOriginator)
            if fromOriginator { r.originatorTCP.fin = true } else { r.responderTCP.fin = true }
        }
        if rst {
            r.history.record(.reset, fromOriginator: fromOriginator)
            if fromOriginator { r.originatorTCP.reset = true } else { r.responderTCP.reset = true }
        }
        return true
    }

    /// Gives later fragments the ports of their first fragment, so that all fragments of a datagram
    /// count into one flow.
    
    mutating func resolveFragmentPorts(_ p: inout PacketSummary) {
        let fragmentKey = FragmentKey(
            source: p.source, destination: p.destination, identifier: p.fragmentIdentifier, ipProtocol: p.ipProtocol)
        if p.isLaterFragment {
            if let ports = fragmentPorts[fragmentKey] {
                p.sourcePort = ports.0
                p.destinationPort = ports.1
            } else {
                counters.orphanFragments += 1
            }
        } else {
            if fragmentPorts.count >= 65_536 { fragmentPorts.removeAll(keepingCapacity: true) }
            let ports = p.ipProtocol == IPProtocolNumber.icmp || p.ipProtocol == IPProtocolNumber.icmpv6
                ? (p.icmpIdentifier, p.icmpIdentifier) : (p.sourcePort, p.destinationPort)
            fragmentPorts[fragmentKey] = ports
        }
        if p.isLaterFragment, p.ipProtocol == IPProtocolNumber.icmp || p.ipProtocol == IPProtocolNumber.icmpv6 {
            // Later ICMP fragments carry no type: they belong to the request's flow.
            p.icmpIdentifier = p.sourcePort
            p.icmpType = p.ipProtocol == IPProtocolNumber.icmp ? 8 : 128
            p.sourcePort = 0
            p.destinationPort = 0
        }
    }

    /// Distinct, well-spread ids from the seed.
    mutating func nextUID() -> UInt64 { uidGenerator.next() }

    func idleLimit(_ r: FlowRecord) -> Int64 {
        switch r.key.ipProtocol {
        case IPProtocolNumber.tcp: r.isClosed ? timeouts.tcpClosed : timeouts.tcpIdle
        case IPProtocolNumber.udp, IPProtocolNumber.udpLite: timeouts.udpIdle
        case IPProtocolNumber.icmp, IPProtocolNumber.icmpv6: timeouts.icmpIdle
        default: timeouts.otherIdle
        }
    }

    /// Active flows handed out as updates per sweep at most (the rest are due at the next sweep).
    public var maximumUpdatesPerSweep = 10_000

    /// Ends flows idle at `now` and hands out active ones whose update is due. Call it from a timer
    /// when no packets arrive; `ingest` calls it as packet time moves on.
    public mutating func expire(now: Int64) {
        nextSweep = now &+ FlowTimeouts.second
        guard !records.isEmpty else { return }
        var expired: [(start: Int64, position: Int)] = []
        // Updates are spread over sweeps: 100,000 open flows due at once are handed out a share at a
        // time, so a checkpoint never holds them all in memory together.
        var updates = 0
        for position in records.indices {
            let record = records[position]
            if now &- record.end >= idleLimit(record) {
                expired.append((record.start, position))
            } else if timeouts.active > 0, !record.isTranslatedCopy, updates < maximumUpdatesPerSweep, now &- record.lastReported >= timeouts.active,
                      record.end > record.lastReported {
                updates += 1
                records[position].lastReported = now
                updated.append(records[position])
            }
        }
        guard !expired.isEmpty else { return }
        for (_, position) in expired.sorted(by: { $0.start < $1.start }) where !records[position].isTranslatedCopy {
            var done = records[position]
            done.endReason = done.isClosed ? .closed : .idle
            ended.append(done)
            counters.flowsEnded += 1
        }
        remove(positions: expired.map(\.position))
    }

    /// Brings the flows in `started` up to date with what the packets after their first said about
    /// them: a flow seen again on a second interface is routed, which decides its local end.
    public mutating func refreshStarted() {
        for position in started.indices where !started[position].isRouted {
            if let live = index.find(started[position].key, in: records), records[Int(live)].isRouted {
                started[position].isRouted = true
            }
        }
    }

    /// Records what attribution found for an open flow; false when the flow has ended already.
    @discardableResult
    public mutating func setOwner(_ owner: OwnerAnswer, of key: FlowKey) -> Bool {
        guard let position = index.find(key, in: records) else { return false }
        records[Int(position)].owner = owner
        return true
    }

    /// The owning process recorded for an open flow, if any.
    public func owner(of key: FlowKey) -> ProcessKey? {
        guard let position = index.find(key, in: records) else { return nil }
        return records[Int(position)].ownerProcess
    }

    /// Removes records by position, moving the last record into each hole.
    mutating func remove(positions removed: [Int]) {
        // From the highest position down: every record after the hole is already gone or kept.
        for position in removed.sorted(by: >) {
            index.remove(Int32(position), in: records)
            let last = records.count - 1
            if position != last {
                index.move(Int32(last), to: Int32(position), in: records)
                records[position] = records[last]
            }
            records.removeLast()
        }
    }

    /// Hands out the record at `position` as ended (it stays in `records` until removed).
    private mutating func handOutEnded(at position: Int, reason: FlowRecord.EndReason) {
        var record = records[position]
        record.endReason = reason
        ended.append(record)
        counters.flowsEnded += 1
    }

    /// Pushes out the least recently active tenth of the table.
    mutating func evictOldest() {
        let victims = records.indices.map { (records[$0].end, $0) }.sorted { $0.0 < $1.0 }.prefix(max(1, capacity / 10))
        for (_, position) in victims where !records[position].isTranslatedCopy {
            handOutEnded(at: position, reason: .evicted)
            counters.flowsEvicted += 1
        }
        remove(positions: victims.map(\.1))
    }

    /// Whether a flow of this protocol ends with the process that owns its socket (datagrams: UDP,
    /// ping): a TCP connection ends by its own FIN or timeout.
    static func endsWithOwner(_ ipProtocol: UInt8) -> Bool {
        switch ipProtocol {
        case IPProtocolNumber.udp, IPProtocolNumber.udpLite, IPProtocolNumber.icmp, IPProtocolNumber.icmpv6: true
        default: false
        }
    }

    /// Notes processes that exited, and when (nanoseconds since the epoch): see `endFlowsOfExitedOwners`.
    public mutating func noteExits(_ exits: [(pid: Int32, at: Int64)]) {
        for exit in exits { exitedOwners[exit.pid] = exit.at }
    }

    /// Ends the datagram flows (UDP, ping) whose owning process exited at least `exitGrace` before
    /// `now`: their sockets went with it, and another process that takes the same port starts a flow
    /// of its own (its packets after the exit already do, see `count`).
    public mutating func endFlowsOfExitedOwners(now: Int64) {
        guard !exitedOwners.isEmpty else { return }
        let due = Set(exitedOwners.compactMap { now - $0.value >= FlowTable.exitGrace ? $0.key : nil })
        exitedOwners = exitedOwners.filter { now - $0.value < FlowTable.exitMemory }
        guard !due.isEmpty, !records.isEmpty else { return }
        var done: [(start: Int64, position: Int)] = []
        for position in records.indices {
            guard let owner = records[position].ownerProcess, due.contains(owner.pid),
                  FlowTable.endsWithOwner(records[position].key.ipProtocol) else { continue }
            done.append((records[position].start, position))
        }
        guard !done.isEmpty else { return }
        for (_, position) in done.sorted(by: { $0.start < $1.start }) {
            handOutEnded(at: position, reason: .ownerExited)
        }
        remove(positions: done.map(\.position))
    }

    /// Ends every open flow (at shutdown or at the end of a file), oldest first.
    public mutating func endAll(reason: FlowRecord.EndReason = .shutdown) {
        var rest = Array(records)
        rest.sort { $0.start < $1.start }
        for var record in rest where !record.isTranslatedCopy {
            record.endReason = record.isClosed ? .closed : reason
            ended.append(record)
            counters.flowsEnded += 1
        }
        records.removeAll()
        index.removeAll()
    }
}
