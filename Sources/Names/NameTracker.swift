public import Flows
import NameParsing
public import PacketParsing

/// Names destinations from what was observed: DNS answers per process (and machine-wide), and each
/// flow's own TLS SNI, QUIC Initial SNI or HTTP Host.
///
/// A value owned by the capture thread, fed every decoded packet. Packets that cannot carry a name
/// (most of them) cost a few comparisons and no allocation. Every table is capped and expires, so
/// memory stays bounded whatever the traffic. The tracker never sends anything.
public struct NameTracker: Sendable {
    /// Caps and lifetimes.
    public struct Limits: Sendable {
        /// DNS-learned address entries, per process and machine-wide together.
        public var addressEntries = 200_000
        /// Distinct hostnames held.
        public var names = 100_000
        /// Queries awaiting their answer.
        public var pendingQueries = 16_384
        /// Flows with a name of their own (SNI, Host) or one taken at their start.
        public var flows = 262_144
        /// TCP streams and QUIC connections whose handshake is being reassembled.
        public var streams = 4096
        /// Bytes held per reassembled stream.
        public var streamBytes = 16 * 1024
        /// How long past its TTL a DNS answer still names its address: programs cache answers and
        /// keep connections open well beyond the TTL.
        public var grace: Int64 = 3600 * 1_000_000_000
        /// How long a query waits for its answer, and a handshake for its missing pieces.
        public var pendingTimeout: Int64 = 30 * 1_000_000_000
        public init() {}
    }

    /// What the tracker has seen, and what it had to give up on.
    public struct Counters: Sendable, Equatable {
        public var dnsMessages: Int64 = 0
        public var dnsMalformed: Int64 = 0
        public var dnsAnswersMatched: Int64 = 0
        public var clientHellos: Int64 = 0
        public var encryptedClientHellos: Int64 = 0
        public var quicClientHellos: Int64 = 0
        public var quicUndecryptable: Int64 = 0
        public var httpHosts: Int64 = 0
        /// Handshakes that could not be put together (a gap, too large, timed out).
        public var reassemblyAbandoned: Int64 = 0
        /// Entries pushed out because a table was full.
        public var evicted: Int64 = 0
        public init() {}
    }

    struct Entry: Sendable {
        var name: UInt32
        var learnedAt: Int64
        var ttl: UInt32
    }

    struct ProcessAddress: Hashable, Sendable {
        var process: ProcessKey
        var address: IPAddress
    }

    struct QueryKey: Hashable, Sendable {
        var client: IPAddress
        var port: UInt16
        var id: UInt16
    }

    /// The socket a DNS query left from: its owner may become known only after the answer arrived.
    struct QueryEndpoint: Hashable, Sendable {
        var client: IPAddress
        var port: UInt16
    }

    struct PendingQuery: Sendable {
        var process: ProcessKey?
        var time: Int64
        var server: IPAddress
    }

    struct FlowName: Sendable {
        var name: UInt32
        var source: NameSource
        var learnedAt: Int64
        var ttl: UInt32?
        var ech: Bool
        /// Whether the flow itself said it (SNI, Host), rather than DNS at the flow's start.
        var own: Bool
    }

    /// One direction of a TCP connection: source first.
    struct StreamKey: Hashable, Sendable {
        var source: IPAddress
        var destination: IPAddress
        var sourcePort: UInt16
        var destinationPort: UInt16
        var ipProtocol: UInt8

        init(_ p: PacketSummary) {
            source = p.source
            destination = p.destination
            sourcePort = p.sourcePort
            destinationPort = p.destinationPort
            ipProtocol = p.ipProtocol
        }
    }

    enum StreamKind: Sendable { case tls, dns }

    struct Stream: Sendable {
        var kind: StreamKind
        var bytes: [UInt8]
        var nextSequence: UInt32?
        var started: Int64
        var process: ProcessKey?
    }

    struct QUICConnection: Sendable {
        var keys: QUICInitial.Keys
        var crypto: CryptoStreamAssembler
        var started: Int64
    }

    public let limits: Limits
    public private(set) var counters = Counters()
    var table = NameTable()
    var byProcess: [ProcessAddress: Entry] = [:]
    var global: [IPAddress: Entry] = [:]
    /// Answers to queries whose process was not yet known, by the querying socket, until it is.
    var unowned: [QueryEndpoint: [(address: IPAddress, entry: Entry)]] = [:]
    var pending: [QueryKey: PendingQuery] = [:]
    var flowNames: [FlowKey: FlowName] = [:]
    var streams: [StreamKey: Stream] = [:]
    var quic: [StreamKey: QUICConnection] = [:]
    /// Processes known to be DNS resolvers: their own queries name nothing for an application.
    public private(set) var resolvers: Set<ProcessKey> = []
    var nextSweep: Int64 = .min

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// The systemd-resolved stub listeners, seen on `lo`.
    public static let resolverStubs: Set<IPAddress> = [IPAddress(v4: 0x7f00_0035), IPAddress(v4: 0x7f00_0036)]

    /// Declares a process a DNS resolver (systemd-resolved, dnsmasq, unbound…): answers to its own
    /// upstream queries go to the machine-wide map only; the program that asked it gets the name
    /// from the resolver's answer to it.
    public mutating func markResolver(_ process: ProcessKey) {
        resolvers.insert(process)
    }

    // MARK: - Feeding

    /// Looks at one decoded packet for names.
    ///
    /// - Parameters:
    ///   - frame: the captured frame the packet was decoded from (`payloadOffset` points into it).
    ///   - process: the local process owning the packet's socket, when attribution knows it.
    ///   - startsFlow: whether this packet opened a new flow: the DNS name its destination has
    ///     now is kept for it, since later answers may rename the address.
    public mutating func observe(_ packet: PacketSummary, frame: UnsafeRawBufferPointer, process: ProcessKey? = nil, startsFlow: Bool = false) {
        if packet.timestamp >= nextSweep { expire(now: packet.timestamp) }
        if startsFlow { noteFlowStart(packet, process: process) }
        let offset = packet.payloadOffset
        guard offset >= 0, packet.payloadLength > 0, !packet.isLaterFragment, offset < frame.count else { return }
        let payload = UnsafeRawBufferPointer(rebasing: frame[offset..<min(frame.count, offset + packet.payloadLength)])
        let sp = packet.sourcePort, dp = packet.destinationPort
        if packet.ipProtocol == IPProtocolNumber.udp {
            if sp == 53 || dp == 53 || sp == 5353 || dp == 5353 {
                observeDNSDatagram(payload, packet: packet, process: process)
            } else if QUICInitial.looksLikeInitial(payload) {
                observeQUIC(payload, packet: packet)
            }
        } else if packet.ipProtocol == IPProtocolNumber.tcp {
            if !streams.isEmpty, streams[StreamKey(packet)] != nil {
                continueStream(payload, packet: packet, frame: frame)
            } else if sp == 53 || dp == 53 {
                startStream(.dns, payload, packet: packet, frame: frame, process: process)
            } else if ClientHelloParser.looksLikeClientHelloRecord(payload) {
                startStream(.tls, payload, packet: packet, frame: frame, process: process)
            } else if HTTPRequestHost.looksLikeRequest(payload) {
                observeHTTP(payload, packet: packet)
            }
        }
    }

    mutating func noteFlowStart(_ packet: PacketSummary, process: ProcessKey?) {
        // The same rule as the flow table: a flow first seen at its SYN-ACK was started by the receiver.
        let synAck = packet.ipProtocol == IPProtocolNumber.tcp && packet.tcpFlags & 0x12 == 0x12
        let remote = synAck ? packet.source : packet.destination
        guard let found = dnsName(forRemote: remote, process: process, at: packet.timestamp) else { return }
        let key = FlowKey.of(packet).key
        guard flowNames[key] == nil else { return }
        makeRoom(flowNamesFor: packet.timestamp)
        flowNames[key] = FlowName(name: found.id, source: found.lookup.source, learnedAt: found.lookup.learnedAt, ttl: found.lookup.ttl, ech: false, own: false)
    }

    mutating func observeDNSDatagram(_ payload: UnsafeRawBufferPointer, packet: PacketSummary, process: ProcessKey?) {
        do {
            let message = try DNSParser.parse(payload)
            record(message, packet: packet, process: process)
        } catch {
            counters.dnsMalformed += 1
        }
    }

    mutating func record(_ message: DNSMessage, packet: PacketSummary, process: ProcessKey?) {
        counters.dnsMessages += 1
        let time = packet.timestamp
        if !message.isResponse {
            guard !message.questions.isEmpty else { return }
            if pending.count >= limits.pendingQueries { expirePending(now: time) }
            if pending.count >= limits.pendingQueries {
                counters.evicted += Int64(pending.count)
                pending.removeAll(keepingCapacity: true)
            }
            pending[QueryKey(client: packet.source, port: packet.sourcePort, id: message.id)] =
                PendingQuery(process: process, time: time, server: packet.destination)
            return
        }
        let key = QueryKey(client: packet.destination, port: packet.destinationPort, id: message.id)
        var asker = process
        if let query = pending.removeValue(forKey: key) {
            counters.dnsAnswersMatched += 1
            if let querier = query.process {
                asker = querier
                // The stub answering on loopback in another process's name: that process is a resolver.
                if let answering = process, answering != querier, packet.source.scope == .loopback {
                    resolvers.insert(answering)
                }
            }
        }
        if let who = asker, resolvers.contains(who) { asker = nil }
        for binding in message.addressBindings {
            let address = binding.address.unmappedV4 ?? binding.address
            let entry = Entry(name: intern(binding.name, at: time), learnedAt: time, ttl: binding.ttl)
            if global[address] == nil, global.count + byProcess.count >= limits.addressEntries { makeRoom(addressesFor: time) }
            global[address] = entry
            if let who = asker {
                byProcess[ProcessAddress(process: who, address: address)] = entry
            } else {
                if unowned.count >= 16_384 { unowned.removeAll(keepingCapacity: true) }
                unowned[QueryEndpoint(client: packet.destination, port: packet.destinationPort), default: []]
                    .append((address, entry))
            }
        }
    }

    /// Credits the answers received by a DNS flow's socket to the process attribution found for it,
    /// once that is known (attribution runs beside the packet path, so an answer can come first).
    public mutating func assignAsker(_ process: ProcessKey, ofFlow key: FlowKey) {
        guard !unowned.isEmpty, !resolvers.contains(process) else { return }
        for endpoint in [QueryEndpoint(client: key.lowAddress, port: key.lowPort), QueryEndpoint(client: key.highAddress, port: key.highPort)] {
            guard let answers = unowned.removeValue(forKey: endpoint) else { continue }
            for answer in answers {
                byProcess[ProcessAddress(process: process, address: answer.address)] = answer.entry
            }
        }
    }

    mutating func intern(_ name: String, at time: Int64) -> UInt32 {
        if table.count >= limits.names { compactNames(now: time) }
        return table.intern(name)
    }

    mutating func observeHTTP(_ payload: UnsafeRawBufferPointer, packet: PacketSummary) {
        let key = FlowKey.of(packet).key
        if let existing = flowNames[key], existing.own { return }
        guard let host = HTTPRequestHost.host(in: payload) else { return }
        counters.httpHosts += 1
        setOwnName(host, source: .httpHost, ech: false, key: key, time: packet.timestamp)
    }

    mutating func setOwnName(_ host: String, source: NameSource, ech: Bool, key: FlowKey, time: Int64) {
        if flowNames[key] == nil { makeRoom(flowNamesFor: time) }
        flowNames[key] = FlowName(name: intern(host, at: time), source: source, learnedAt: time, ttl: nil, ech: ech, own: true)
    }

    // MARK: TCP streams

    mutating func startStream(_ kind: StreamKind, _ payload: UnsafeRawBufferPointer, packet: PacketSummary, frame: UnsafeRawBufferPointer, process: ProcessKey?) {
        if kind == .tls {
            let key = FlowKey.of(packet).key
            if let existing = flowNames[key], existing.own { return }
        }
        var stream = Stream(kind: kind, bytes: [], nextSequence: nil, started: packet.timestamp, process: process)
        if let sequence = TCPSequence.of(packet, in: frame) {
            stream.nextSequence = sequence &+ UInt32(truncatingIfNeeded: payload.count)
        }
        stream.bytes.append(contentsOf: payload.prefix(limits.streamBytes))
        if process == nil, kind == .dns { stream.process = nil }
        if let keep = advance(&stream, packet: packet) {
            if streams.count >= limits.streams { expireStreams(now: packet.timestamp, force: true) }
            streams[StreamKey(packet)] = keep
        }
    }

    mutating func continueStream(_ payload: UnsafeRawBufferPointer, packet: PacketSummary, frame: UnsafeRawBufferPointer) {
        let key = StreamKey(packet)
        guard var stream = streams.removeValue(forKey: key) else { return }
        var data = payload
        if let expected = stream.nextSequence {
            guard let sequence = TCPSequence.of(packet, in: frame) else {
                counters.reassemblyAbandoned += 1
                return
            }
            let ahead = Int32(bitPattern: sequence &- expected)
            if ahead > 0 {
                // A gap: a segment was lost to the capture. The handshake cannot be completed.
                counters.reassemblyAbandoned += 1
                return
            }
            let overlap = Int(-ahead)
            if overlap >= data.count {
                streams[key] = stream  // a retransmission of what we hold
                return
            }
            data = UnsafeRawBufferPointer(rebasing: data[overlap...])
            stream.nextSequence = expected &+ UInt32(truncatingIfNeeded: data.count)
        }
        guard stream.bytes.count + data.count <= limits.streamBytes else {
            counters.reassemblyAbandoned += 1
            return
        }
        stream.bytes.append(contentsOf: data)
        if let keep = advance(&stream, packet: packet) { streams[key] = keep }
    }

    /// Parses what a stream holds; returns the stream if it should wait for more bytes.
    mutating func advance(_ stream: inout Stream, packet: PacketSummary) -> Stream? {
        switch stream.kind {
        case .tls:
            do {
                let hello = try withBytes(stream.bytes) { raw throws(ClientHelloError) in
                    try ClientHelloParser.parseRecords(raw)
                }
                counters.clientHellos += 1
                if hello.encryptedClientHello { counters.encryptedClientHellos += 1 }
                if let name = hello.serverName {
                    setOwnName(name, source: .sni, ech: hello.encryptedClientHello, key: FlowKey.of(packet).key, time: packet.timestamp)
                }
                return nil
            } catch .incomplete(let needed) {
                if needed > limits.streamBytes {
                    counters.reassemblyAbandoned += 1
                    return nil
                }
                return stream
            } catch {
                return nil
            }
        case .dns:
            do {
                let (messages, consumed) = try withBytes(stream.bytes) { raw throws(DNSParseError) in
                    try DNSParser.parseStream(raw)
                }
                for message in messages { record(message, packet: packet, process: stream.process) }
                stream.bytes.removeFirst(consumed)
                return stream
            } catch {
                counters.dnsMalformed += 1
                return nil
            }
        }
    }

    // MARK: QUIC

    mutating func observeQUIC(_ payload: UnsafeRawBufferPointer, packet: PacketSummary) {
        let key = StreamKey(packet)
        let flow = FlowKey.of(packet).key
        if let existing = flowNames[flow], existing.own { return }
        var connection = quic.removeValue(forKey: key)
        var packets: [QUICInitial.Packet] = []
        do {
            packets = try QUICInitial.openDatagram(payload)
            if connection == nil, let first = packets.first {
                connection = QUICConnection(
                    keys: QUICInitial.clientKeys(destinationConnectionID: first.destinationConnectionID, version: first.version),
                    crypto: CryptoStreamAssembler(capacity: limits.streamBytes), started: packet.timestamp)
            }
        } catch {
            // Later Initials after the server's first reply use the server's connection ID, but
            // keep the keys of the client's first one.
            if let known = connection, let opened = try? QUICInitial.openDatagram(payload, keys: known.keys) {
                packets = opened
            } else {
                counters.quicUndecryptable += 1
                if let connection { quic[key] = connection }
                return
            }
        }
        guard var state = connection else { return }
        for opened in packets {
            for frame in opened.cryptoFrames { state.crypto.add(offset: frame.offset, data: frame.data) }
        }
        do {
            if let hello = try state.crypto.clientHello() {
                counters.quicClientHellos += 1
                if hello.encryptedClientHello { counters.encryptedClientHellos += 1 }
                if let name = hello.serverName {
                    setOwnName(name, source: .quicSNI, ech: hello.encryptedClientHello, key: flow, time: packet.timestamp)
                }
                return
            }
        } catch {
            counters.reassemblyAbandoned += 1
            return
        }
        if quic.count >= limits.streams { expireStreams(now: packet.timestamp, force: true) }
        quic[key] = state
    }

    // MARK: - Looking up

    /// The name of a remote address for a process at a time, from DNS: the process's own answers
    /// first (`dns`), then any answer seen on the machine (`dns-global`).
    public func name(forRemote address: IPAddress, process: ProcessKey?, at time: Int64) -> NameLookup? {
        dnsName(forRemote: address, process: process, at: time)?.lookup
    }

    func dnsName(forRemote address: IPAddress, process: ProcessKey?, at time: Int64) -> (lookup: NameLookup, id: UInt32)? {
        let address = address.unmappedV4 ?? address
        if let process, !resolvers.contains(process), let entry = byProcess[ProcessAddress(process: process, address: address)], valid(entry, at: time) {
            return (NameLookup(name: table[entry.name], source: .dns, learnedAt: entry.learnedAt, ttl: entry.ttl), entry.name)
        }
        if let entry = global[address], valid(entry, at: time) {
            return (NameLookup(name: table[entry.name], source: .dnsGlobal, learnedAt: entry.learnedAt, ttl: entry.ttl), entry.name)
        }
        return nil
    }

    func valid(_ entry: Entry, at time: Int64) -> Bool {
        // Two seconds of slack: capture timestamps of different interfaces are not strictly ordered.
        entry.learnedAt <= time &+ 2_000_000_000 && time <= entry.learnedAt &+ Int64(entry.ttl) * 1_000_000_000 &+ limits.grace
    }

    /// The name of a flow: its own SNI, QUIC SNI or HTTP Host first, then the DNS name its remote
    /// end had when the flow started, then the DNS name it has at the flow's start by lookup now.
    public func name(for flow: FlowRecord, process: ProcessKey?) -> NameLookup? {
        let kept = flowNames[flow.key].map {
            NameLookup(name: table[$0.name], source: $0.source, learnedAt: $0.learnedAt, ttl: $0.ttl, encryptedClientHello: $0.ech)
        }
        if let kept, flowNames[flow.key]?.own == true { return kept }
        let now = name(forRemote: flow.responderAddress, process: process, at: flow.start)
        // The process's own answer beats a name kept at the start, which may have been machine-wide.
        if let now, now.source == .dns, kept?.source != .dns { return now }
        return kept ?? now ?? name(forRemote: flow.originatorAddress, process: process, at: flow.start)
    }

    /// Forgets what was kept for a flow that ended.
    public mutating func forget(flow key: FlowKey) {
        flowNames.removeValue(forKey: key)
    }

    func withBytes<R, E: Error>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let result: Result<R, E> = bytes.withUnsafeBytes { raw in Result { () throws(E) -> R in try body(raw) } }
        return try result.get()
    }

    // MARK: - Bounds

    /// Drops pending queries, stalled handshakes and DNS entries past their lifetime.
    public mutating func expire(now: Int64) {
        nextSweep = now &+ 5_000_000_000
        expirePending(now: now)
        expireStreams(now: now, force: false)
    }

    mutating func expirePending(now: Int64) {
        guard !pending.isEmpty else { return }
        pending = pending.filter { now &- $0.value.time < limits.pendingTimeout }
    }

    mutating func expireStreams(now: Int64, force: Bool) {
        let timeout = force ? 0 : limits.pendingTimeout
        if !streams.isEmpty {
            let before = streams.count
            streams = streams.filter { now &- $0.value.started < timeout || $0.value.kind == .dns && !force && now &- $0.value.started < 10 * limits.pendingTimeout }
            counters.reassemblyAbandoned += Int64(before - streams.count)
        }
        if !quic.isEmpty {
            let before = quic.count
            quic = quic.filter { now &- $0.value.started < timeout }
            counters.reassemblyAbandoned += Int64(before - quic.count)
        }
    }

    mutating func makeRoom(addressesFor now: Int64) {
        let before = global.count + byProcess.count
        global = global.filter { valid($0.value, at: now) }
        byProcess = byProcess.filter { valid($0.value, at: now) }
        if global.count + byProcess.count >= limits.addressEntries {
            // Still full of live entries: the older half goes.
            let all = (global.values.map(\.learnedAt) + byProcess.values.map(\.learnedAt)).sorted()
            let cut = all[all.count / 2]
            global = global.filter { $0.value.learnedAt > cut }
            byProcess = byProcess.filter { $0.value.learnedAt > cut }
        }
        counters.evicted += Int64(before - global.count - byProcess.count)
    }

    mutating func makeRoom(flowNamesFor now: Int64) {
        guard flowNames.count >= limits.flows else { return }
        let times = flowNames.values.map(\.learnedAt).sorted()
        let cut = times[times.count / 2]
        let before = flowNames.count
        flowNames = flowNames.filter { $0.value.learnedAt > cut }
        counters.evicted += Int64(before - flowNames.count)
    }

    /// Renumbers the name table to the names still referred to; if that frees too little, the
    /// DNS maps are emptied first.
    mutating func compactNames(now: Int64) {
        makeRoom(addressesFor: now)
        var used = Set<UInt32>()
        for entry in global.values { used.insert(entry.name) }
        for entry in byProcess.values { used.insert(entry.name) }
        for entry in flowNames.values { used.insert(entry.name) }
        if used.count >= limits.names * 3 / 4 {
            counters.evicted += Int64(global.count + byProcess.count)
            global.removeAll()
            byProcess.removeAll()
            used = Set(flowNames.values.map(\.name))
        }
        let renumbered = table.compact(keeping: used)
        for index in global.indices { global.values[index].name = renumbered[global.values[index].name] ?? 0 }
        for index in byProcess.indices { byProcess.values[index].name = renumbered[byProcess.values[index].name] ?? 0 }
        for index in flowNames.indices { flowNames.values[index].name = renumbered[flowNames.values[index].name] ?? 0 }
    }

    /// How many entries each table holds (for tests and status).
    public var sizes: (addresses: Int, names: Int, pendingQueries: Int, flows: Int, streams: Int) {
        (global.count + byProcess.count, table.count, pending.count, flowNames.count, streams.count + quic.count)
    }
}
