public import PacketParsing

/// What is known about the process behind a flow, as plain values (ProcessAttribution's
/// `ProcessIdentity` maps onto it field by field).
///
/// Hashable on purpose: the engine caches a process's role and applicable rules keyed by the facts,
/// so changed facts (a newly opened model file, a new listening port) are a new key.
public struct ProcessFacts: Sendable, Hashable {
    public var pid: Int32?
    public var startTime: UInt64?
    public var exe: String?
    /// Lowercase hex.
    public var sha256: String?
    /// Arguments joined with spaces.
    public var cmdline: String?
    public var comm: String?
    /// The program identity's name (`open-webui`) and kind (`console-script`).
    public var program: String?
    public var programKind: String?
    /// A role the process holds by what it did (it called a model runtime's API: `chatbot-ui`),
    /// used when no matcher gives it one.
    public var relatedRole: String?
    public var user: String?
    public var uid: UInt32?
    /// The systemd unit (service or scope).
    public var unit: String?
    /// A container id.
    public var container: String?
    public var parentExe: String?
    public var parentCmdline: String?
    /// Ancestors beyond the parent, nearest first.
    public var ancestorExes: [String]
    public var ancestorCmdlines: [String]
    /// Ports the process listens on (TCP) or is bound to (UDP), when the caller knows them.
    public var listeningPorts: [UInt16]
    /// Paths of files the process holds open, when the caller knows them (`/proc/PID/fd`).
    public var openFiles: [String]

    public init(
        pid: Int32? = nil, startTime: UInt64? = nil, exe: String? = nil, sha256: String? = nil, cmdline: String? = nil,
        comm: String? = nil, user: String? = nil, uid: UInt32? = nil, unit: String? = nil, container: String? = nil,
        parentExe: String? = nil, parentCmdline: String? = nil, ancestorExes: [String] = [],
        ancestorCmdlines: [String] = [], listeningPorts: [UInt16] = [], openFiles: [String] = [],
        program: String? = nil, programKind: String? = nil
    ) {
        self.program = program
        self.programKind = programKind
        self.pid = pid
        self.startTime = startTime
        self.exe = exe
        self.sha256 = sha256
        self.cmdline = cmdline
        self.comm = comm
        self.user = user
        self.uid = uid
        self.unit = unit
        self.container = container
        self.parentExe = parentExe
        self.parentCmdline = parentCmdline
        self.ancestorExes = ancestorExes
        self.ancestorCmdlines = ancestorCmdlines
        self.listeningPorts = listeningPorts
        self.openFiles = openFiles
    }

    /// The last path component of the executable, without a " (deleted)" suffix.
    var exeName: Substring? {
        guard let exe else { return nil }
        var path = exe[...]
        if path.hasSuffix(" (deleted)") { path = path.dropLast(10) }
        if let slash = path.lastIndex(of: "/") { return path[path.index(after: slash)...] }
        return path
    }

    /// The executable path without a " (deleted)" suffix.
    var exePath: Substring? {
        guard let exe else { return nil }
        let path = exe[...]
        return path.hasSuffix(" (deleted)") ? path.dropLast(10) : path
    }
}

/// One flow as policy sees it: the process (nil when unattributed) and the remote end.
public struct FlowFacts: Sendable {
    public var process: ProcessFacts?
    public var remoteAddress: IPAddress
    public var remotePort: UInt16
    /// The IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, 132 SCTP).
    public var ipProtocol: UInt8
    /// The scope the caller computed (with this machine's networks); rules may re-scope networks.
    public var scope: AddressScope
    /// The observed name of the destination, if any.
    public var hostname: String?
    /// The role of the process at the other end, when that end is on this machine too.
    public var peerRole: String?

    public init(process: ProcessFacts?, remoteAddress: IPAddress, remotePort: UInt16, ipProtocol: UInt8,
                scope: AddressScope? = nil, hostname: String? = nil) {
        self.process = process
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
        self.ipProtocol = ipProtocol
        self.scope = scope ?? remoteAddress.scope
        self.hostname = hostname
    }
}
