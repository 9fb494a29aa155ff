public import Flows
public import PacketParsing

/// One flow in the shape of the JSON contract: what every report format and client reads.
public struct FlowRow: Sendable, Equatable {
    /// What a process with no role is called everywhere (table, JSON, CSV, metrics, report groups).
    public static let noRole = "other"

    /// The process that owned the flow's local socket.
    public struct Process: Sendable, Equatable {
        public var pid: Int
        /// Start time of the process in clock ticks since boot: with the pid, its identity (pids are reused).
        public var startTime: Int64?
        public var exe: String?
        public var sha256: String?
        public var cmdline: String?
        public var comm: String?
        public var uid: Int?
        public var user: String?
        public var ppid: Int?
        public var parentExe: String?
        public var unit: String?
        public var container: String?
        public var role: String?
        /// What a person calls the program (`open-webui`, not `python3.11`); nil when not known.
        public var program: String?
        /// How `program` was read: `executable`, `script`, `console-script`, `module`, `jar`,
        /// `node-package`, `app` or `container`.
        public var programKind: String?
        /// Where the role came from: `matcher` (a rule's matcher), `relation` (it called a model
        /// runtime's API) or `rule-file` (a run policy); nil without a role.
        public var roleSource: String?

        public init(pid: Int) { self.pid = pid }

        /// The name to show a person: the program, else the executable's name, else the command name.
        public var displayName: String {
            if let program, !program.isEmpty { return program }
            if let exe, !exe.isEmpty {
                var path = Substring(exe)
                if path.hasSuffix(" (deleted)") { path = path.dropLast(10) }
                if let slash = path.lastIndex(of: "/") { return String(path[path.index(after: slash)...]) }
                return String(path)
            }
            return comm ?? "?"
        }
    }

    /// How much of a flow's payload Telltale could read, and how many prompts it carried.
    public struct Content: Sendable, Equatable {
        /// `tls-plaintext`, `wire-plaintext`, `opaque` or `not-inspected`.
        public var visibility: String
        /// Prompts (or canaries) a run of whose words the flow carried.
        public var promptMatches: Int

        public init(visibility: String, promptMatches: Int = 0) {
            self.visibility = visibility
            self.promptMatches = promptMatches
        }
    }

    public var uid: String
    public var start: Int64
    public var end: Int64
    public var proto: String
    public var ipProtocol: UInt8
    public var ipVersion: Int
    public var localAddress: String
    public var localPort: Int
    public var remoteAddress: String
    public var remotePort: Int
    public var direction: FlowDirection
    public var scope: AddressScope
    public var bytesOut: Int64
    public var bytesIn: Int64
    public var packetsOut: Int64
    public var packetsIn: Int64
    public var connState: String
    public var history: String
    public var communityID: String
    public var icmpIdentifier: Int?
    public var hostname: String?
    public var nameSource: String?
    /// Whether the name is the public name of an Encrypted Client Hello.
    public var encryptedClientHello = false
    public var process: Process?
    /// The process at the other end, when that end is on this machine too (the server of a loopback
    /// flow, a process in another network namespace): `process` opened the flow, this one accepted it.
    public var peerProcess: Process?
    /// Which source named `process`: `kernel-events` or `polling` (nil when there is none).
    public var attributionSource: String?
    public var unattributedReason: String?
    public var verdict: Verdict
    public var rule: String?
    /// What inspection could see of the flow (nil when content inspection was off).
    public var content: Content?
    /// The flow's place in the order flows finished (the store's `seq`): nil while it is open or
    /// before it is stored. `report --follow` and the exports resume from it.
    public var sequence: Int64?

    /// Names a protocol number the way the contract does: `tcp`, `udp`, `icmp`, `icmpv6`, `sctp`, or `ip-N`.
    public static func protocolName(_ number: UInt8) -> String {
        switch number {
        case IPProtocolNumber.tcp: "tcp"
        case IPProtocolNumber.udp: "udp"
        case IPProtocolNumber.icmp: "icmp"
        case IPProtocolNumber.icmpv6: "icmpv6"
        case IPProtocolNumber.sctp: "sctp"
        default: "ip-\(number)"
        }
    }

    public init(
        uid: String, start: Int64, end: Int64, proto: String, ipProtocol: UInt8, ipVersion: Int,
        localAddress: String, localPort: Int, remoteAddress: String, remotePort: Int, direction: FlowDirection,
        scope: AddressScope, bytesOut: Int64, bytesIn: Int64, packetsOut: Int64, packetsIn: Int64,
        connState: String, history: String, communityID: String
    ) {
        self.uid = uid
        self.start = start
        self.end = end
        self.proto = proto
        self.ipProtocol = ipProtocol
        self.ipVersion = ipVersion
        self.localAddress = localAddress
        self.localPort = localPort
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
        self.direction = direction
        self.scope = scope
        self.bytesOut = bytesOut
        self.bytesIn = bytesIn
        self.packetsOut = packetsOut
        self.packetsIn = packetsIn
        self.connState = connState
        self.history = history
        self.communityID = communityID
        self.verdict = .unrated
    }

    /// Turns a flow record to face this machine.
    public init(_ r: FlowRecord, local: LocalNetwork) {
        let o = r.orientation(in: local)
        uid = r.uidText
        start = r.start
        end = r.end
        ipProtocol = r.ipProtocol
        proto = FlowRow.protocolName(r.ipProtocol)
        ipVersion = r.ipVersion
        direction = o.direction
        var localPort = Int(r.originatorPort), remotePort = Int(r.responderPort)
        if r.isICMP {
            // Zeek's convention: the originator's "port" is the ICMP type, the responder's the code.
            localPort = Int(r.icmpType)
            remotePort = Int(r.icmpCode)
            icmpIdentifier = Int(r.key.lowPort)
        }
        if o.originatorIsLocal {
            localAddress = r.originatorAddress.description
            remoteAddress = r.responderAddress.description
            scope = r.responderAddress.scope
            bytesOut = r.originatorBytes
            bytesIn = r.responderBytes
            packetsOut = r.originatorPackets
            packetsIn = r.responderPackets
        } else {
            localAddress = r.responderAddress.description
            remoteAddress = r.originatorAddress.description
            scope = r.originatorAddress.scope
            bytesOut = r.responderBytes
            bytesIn = r.originatorBytes
            packetsOut = r.responderPackets
            packetsIn = r.originatorPackets
            if !r.isICMP { swap(&localPort, &remotePort) }
        }
        self.localPort = localPort
        self.remotePort = remotePort
        connState = r.connState
        history = r.history.text
        communityID = CommunityID.of(r)
        hostname = r.hostname
        nameSource = r.nameSource
        encryptedClientHello = r.encryptedClientHello
        verdict = .unrated
    }
}

extension FlowRow {
    /// Whether `text` is a flow uid as rows carry them (like `C0dNmbB6GHRa`).
    public static func isUID(_ text: String) -> Bool { FlowRecord.uid(fromText: text) != nil }
}
