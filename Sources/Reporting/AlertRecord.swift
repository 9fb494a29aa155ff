/// One alert as stored: when, which flow and program, where it went, the rule and what it means.
public struct AlertRecord: Sendable, Equatable, Codable {
    /// The row id once stored.
    public var id: Int64?
    /// Nanoseconds since the Unix epoch.
    public var time: Int64
    public var flowUID: String?
    public var pid: Int?
    public var exe: String?
    /// The command line (or the process name when the command line is unknown).
    public var process: String?
    public var role: String?
    public var remoteAddress: String
    public var remotePort: Int
    /// `tcp`, `udp`, ... as in the flow contract.
    public var proto: String
    public var hostname: String?
    public var rule: String
    /// `info`, `low`, `medium`, `high` or `critical`.
    public var severity: String
    public var message: String
    public var tags: [String]
    /// The sinks that took the alert (`log`, `desktop`, `webhook`, `command`), or why none did.
    public var delivered: [String]

    public init(
        id: Int64? = nil, time: Int64, flowUID: String? = nil, pid: Int? = nil, exe: String? = nil, process: String? = nil,
        role: String? = nil, remoteAddress: String, remotePort: Int, proto: String, hostname: String? = nil, rule: String,
        severity: String, message: String, tags: [String] = [], delivered: [String] = []
    ) {
        self.id = id
        self.time = time
        self.flowUID = flowUID
        self.pid = pid
        self.exe = exe
        self.process = process
        self.role = role
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
        self.proto = proto
        self.hostname = hostname
        self.rule = rule
        self.severity = severity
        self.message = message
        self.tags = tags
        self.delivered = delivered
    }

    enum CodingKeys: String, CodingKey {
        case id, time, pid, exe, process, role, proto, hostname, rule, severity, message, tags, delivered
        case flowUID = "flow_uid"
        case remoteAddress = "remote_addr"
        case remotePort = "remote_port"
    }

    /// The destination as people read it: the name when known, else the address, with the port.
    public var destination: String {
        (hostname ?? (remoteAddress.contains(":") ? "[\(remoteAddress)]" : remoteAddress)) + ":\(remotePort)"
    }
}
