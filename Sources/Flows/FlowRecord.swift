public import PacketParsing

/// One bidirectional flow with Zeek-like counters: who started it, when, and how much went each way.
public struct FlowRecord: Sendable, Equatable {
    /// TCP control events seen from one side, one bit each.
    public struct TCPSide: Sendable, Equatable {
        private var bits: UInt8 = 0
        public var syn: Bool { get { bits & 1 != 0 } set { set(1, newValue) } }
        public var synAck: Bool { get { bits & 2 != 0 } set { set(2, newValue) } }
        public var fin: Bool { get { bits & 4 != 0 } set { set(4, newValue) } }
        public var reset: Bool { get { bits & 8 != 0 } set { set(8, newValue) } }
        public init() {}
        private mutating func set(_ bit: UInt8, _ on: Bool) { bits = on ? bits | bit : bits & ~bit }
    }

    /// Why a flow left the table.
    public enum EndReason: String, Sendable {
        case idle, closed, evicted, shutdown
        /// The process that owned the flow's socket exited: its datagram socket went with it.
        case ownerExited = "owner-exited"
    }

    // Stored properties are laid out in the order declared. What every packet reads or changes comes
    // first (the key, interfaces, times, counters, history, flags, sides): a packet touches the
    // record's first 120 bytes. The record is one of 100,000 open flows: 160 bytes (a test holds it
    // there), with the one-byte fields filling what would be padding before `uid`.
    public let key: FlowKey
    /// The interface whose copies of each side's packets are counted (0: the capture names none).
    /// A routed or bridged packet crosses several interfaces of this machine and is captured on
    /// each; only the copy on the interface where the flow's side was first seen counts.
    public var originatorInterface: Int32 = 0
    public var responderInterface: Int32 = 0
    /// Nanoseconds since the Unix epoch.
    public var start: Int64
    public var end: Int64
    public var originatorBytes: Int64 = 0
    public var originatorPackets: Int64 = 0
    public var responderBytes: Int64 = 0
    public var responderPackets: Int64 = 0
    public var history = TCPHistory()
    private var flags: UInt8 = 0
    public var originatorTCP = TCPSide()
    public var responderTCP = TCPSide()
    /// Whether the link layer marked the originator's first packet as sent by this machine.
    public var originatorLinkDirection: PacketSummary.LinkDirection = .unknown
    public var endReason: EndReason?
    /// `nameSource` as one byte: its position in `nameSources` plus one, zero for none.
    private var nameSourceCode: UInt8 = 0
    /// A unique id for the flow, rendered as `uid` (see `FlowRecord.uidText`).
    public var uid: UInt64
    /// When the flow was last handed out as an update (active timeout), in nanoseconds.
    public var lastReported: Int64
    /// What attribution found for the flow, once the capture thread has heard it: one object shared
    /// by every flow of a process, so naming needs no table of its own and attribution keeps no
    /// entry per open flow.
    public var owner: OwnerAnswer?
    /// The destination's name, from what was observed (DNS, SNI, QUIC SNI, HTTP Host), if any: the
    /// name table's object, shared by every flow to that name.
    public var name: HostName?
    public var originatorPort: UInt16
    public var responderPort: UInt16
    /// ICMP type and code of the first packet (Zeek reports them as the ports).
    public var icmpType: UInt8 = 0
    public var icmpCode: UInt8 = 0

    private static let originatorIsLowFlag: UInt8 = 1, translatedCopyFlag: UInt8 = 2, routedFlag: UInt8 = 4, echFlag: UInt8 = 8
    private func flag(_ bit: UInt8) -> Bool { flags & bit != 0 }
    private mutating func setFlag(_ bit: UInt8, _ on: Bool) { flags = on ? flags | bit : flags & ~bit }

    /// Whether the originator is the key's low endpoint. The addresses live in the key only: a
    /// record that held them again took 48 bytes more per open flow.
    private(set) var originatorIsLow: Bool {
        get { flag(FlowRecord.originatorIsLowFlag) }
        set { setFlag(FlowRecord.originatorIsLowFlag, newValue) }
    }
    /// Whether this flow is another flow's packets after address translation (a container's flow on
    /// its way out, masqueraded): its packets are copies, counted in the other flow, and the flow
    /// itself is never handed out.
    public var isTranslatedCopy: Bool {
        get { flag(FlowRecord.translatedCopyFlag) }
        set { setFlag(FlowRecord.translatedCopyFlag, newValue) }
    }
    /// Whether the flow's packets cross this machine between two of its interfaces (routed or
    /// bridged: a container's or a virtual machine's flow), rather than start or end here.
    public var isRouted: Bool {
        get { flag(FlowRecord.routedFlag) }
        set { setFlag(FlowRecord.routedFlag, newValue) }
    }
    /// Whether the flow's ClientHello was encrypted (ECH): `hostname` is then the public name.
    public var encryptedClientHello: Bool {
        get { flag(FlowRecord.echFlag) }
        set { setFlag(FlowRecord.echFlag, newValue) }
    }

    /// The destination's name as text.
    public var hostname: String? {
        get { name?.text }
        set { name = newValue.map(HostName.init) }
    }

    /// The owning process, when attribution has named one.
    public var ownerProcess: ProcessKey? { owner?.process }
    public var originatorAddress: IPAddress { originatorIsLow ? key.lowAddress : key.highAddress }
    public var responderAddress: IPAddress { originatorIsLow ? key.highAddress : key.lowAddress }
    /// Where `hostname` came from: `dns`, `dns-global`, `sni`, `quic-sni` or `http-host`.
    public var nameSource: String? {
        get { nameSourceCode == 0 ? nil : FlowRecord.nameSources[Int(nameSourceCode) - 1] }
        set { nameSourceCode = newValue.flatMap { FlowRecord.nameSources.firstIndex(of: $0) }.map { UInt8($0 + 1) } ?? 0 }
    }
    /// Every source a name can have; another value is not kept.
    public static let nameSources = ["dns", "dns-global", "sni", "quic-sni", "http-host"]

    public var ipProtocol: UInt8 { key.ipProtocol }
    public var ipVersion: Int { originatorAddress.family == .v4 ? 4 : 6 }
    public var isICMP: Bool { key.ipProtocol == IPProtocolNumber.icmp || key.ipProtocol == IPProtocolNumber.icmpv6 }

    public init(uid: UInt64, key: FlowKey, first p: PacketSummary) {
        self.uid = uid
        self.key = key
        flags = p.source == key.lowAddress ? FlowRecord.originatorIsLowFlag : 0
        if p.ipProtocol == IPProtocolNumber.icmp || p.ipProtocol == IPProtocolNumber.icmpv6 {
            originatorPort = 0
            responderPort = 0
        } else {
            originatorPort = p.sourcePort
            responderPort = p.destinationPort
        }
        icmpType = p.icmpType
        icmpCode = p.icmpCode
        originatorLinkDirection = p.linkDirection
        start = p.timestamp
        end = p.timestamp
        lastReported = p.timestamp
    }

    /// Whether a packet travelling from `source`/`port` comes from the originator.
    
    public func isFromOriginator(_ p: PacketSummary) -> Bool {
        if p.source != originatorAddress { return false }
        if p.source != p.destination { return true }
        // Both ends share an address (loopback): tell the sides apart by port, or by ICMP message kind.
        if isICMP { return !ICMPKind.isReply(p.icmpType, v6: p.ipProtocol == IPProtocolNumber.icmpv6) }
        return p.sourcePort == originatorPort
    }

    /// Swaps originator and responder, as Zeek does when the first packet seen was a SYN-ACK.
    public mutating func flipRoles() {
        originatorIsLow.toggle()
        swap(&originatorPort, &responderPort)
        swap(&originatorBytes, &responderBytes)
        swap(&originatorPackets, &responderPackets)
        swap(&originatorTCP, &responderTCP)
        swap(&originatorInterface, &responderInterface)
        originatorLinkDirection = switch originatorLinkDirection {
        case .incoming: .outgoing
        case .outgoing: .incoming
        case .unknown: .unknown
        }
        history.swapDirections()
        history.recordFlip()
    }

    /// Whether both sides have closed (FIN each way) or either side reset.
    public var isClosed: Bool {
        (originatorTCP.fin && responderTCP.fin) || originatorTCP.reset || responderTCP.reset
    }

    /// Zeek's `conn_state` summary of the connection.
    public var connState: String {
        guard key.ipProtocol == IPProtocolNumber.tcp else {
            return responderPackets > 0 ? "SF" : "S0"
        }
        let o = originatorTCP, r = responderTCP
        if o.syn && !r.synAck {
            if r.reset { return "REJ" }
            if o.reset { return "RSTOS0" }
            if o.fin { return "SH" }
            return "S0"
        }
        if !o.syn && r.synAck {
            if r.reset { return "RSTRH" }
            if r.fin { return "SHR" }
        }
        if !o.syn && !r.synAck { return "OTH" }
        if o.reset { return "RSTO" }
        if r.reset { return "RSTR" }
        if o.fin && r.fin { return "SF" }
        if o.fin { return "S2" }
        if r.fin { return "S3" }
        return "S1"
    }

    /// The `uid` text: "C" and the id in base 62, like Zeek's connection uids.
    public var uidText: String { FlowRecord.uidText(uid) }

    public static func uidText(_ uid: UInt64) -> String {
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
        var value = uid
        var digits: [UInt8] = []
        repeat {
            digits.append(alphabet[Int(value % 62)])
            value /= 62
        } while value > 0
        while digits.count < 11 { digits.append(alphabet[0]) }
        return "C" + String(decoding: digits.reversed(), as: UTF8.self)
    }

    /// Parses a `uid` text back to its number; nil when it is not one of ours.
    public static func uid(fromText text: String) -> UInt64? {
        guard text.first == "C", text.count >= 2 else { return nil }
        var value: UInt64 = 0
        for byte in text.utf8.dropFirst() {
            let digit: UInt64
            switch byte {
            case 48...57: digit = UInt64(byte - 48)
            case 65...90: digit = UInt64(byte - 55)
            case 97...122: digit = UInt64(byte - 61)
            default: return nil
            }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 62)
            let (sum, overflow2) = times.addingReportingOverflow(digit)
            if overflow1 || overflow2 { return nil }
            value = sum
        }
        return value
    }
}
