/// One alert as stored: when, which flow and program, where it went, the rule and what it means.
public struct AlertRecord: Sendable, Equatable, Codable {
    /// What a content alert found: words of a prompt (or a canary) in a flow that left the machine.
    /// Never the words themselves.
    public struct ContentEvidence: Sendable, Equatable, Codable {
        /// The longest run of the prompt's words the flow carried (0 for a canary).
        public var matchedWords: Int
        /// When the prompt was seen on its way to the runtime (RFC 3339); nil for a canary.
        public var promptSeen: String?
        /// The program that sent the prompt to the runtime.
        public var promptProcess: String?
        /// The runtime the prompt went to.
        public var runtime: String?
        /// `tls-plaintext` or `wire-plaintext`: where the words were read.
        public var visibility: String
        /// The canary's label, when a canary was found.
        public var canary: String?

        public init(matchedWords: Int, promptSeen: String? = nil, promptProcess: String? = nil, runtime: String? = nil,
                    visibility: String, canary: String? = nil) {
            self.matchedWords = matchedWords
            self.promptSeen = promptSeen
            self.promptProcess = promptProcess
            self.runtime = runtime
            self.visibility = visibility
            self.canary = canary
        }

        enum CodingKeys: String, CodingKey {
            case runtime, visibility, canary
            case matchedWords = "matched_words"
            case promptSeen = "prompt_seen"
            case promptProcess = "prompt_process"
        }
    }

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
    /// What a person calls the program (`open-webui`), as the flow names it.
    public var program: String?
    /// Where the destination's name came from (`sni`, `dns`, `http-host`, `quic-sni`), as in the flow.
    public var nameSource: String?
    /// Set for content alerts (`content/prompt-leak`).
    public var content: ContentEvidence?

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
        case id, time, pid, exe, process, role, proto, hostname, rule, severity, message, tags, delivered, program, content
        case nameSource = "name_source"
        case flowUID = "flow_uid"
        case remoteAddress = "remote_addr"
        case remotePort = "remote_port"
    }

    /// The destination as people read it: the name when known, else the address, with the port.
    public var destination: String {
        (hostname ?? (remoteAddress.contains(":") ? "[\(remoteAddress)]" : remoteAddress)) + ":\(remotePort)"
    }
}
