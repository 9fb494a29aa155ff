public import Export
public import Flows
public import PacketParsing
import Policy
import Posix
import Reporting
import Yams

/// The daemon's settings: every key optional, defaults that work with no file at all.
public struct DaemonConfiguration: Sendable, Equatable {
    /// Where the daemon keeps its database unless told otherwise; `report`, `alerts` and `run` read
    /// or write the same file by default.
    public static let defaultDatabase = "/var/lib/telltale/telltale.db"

    /// What each interval setting takes, in nanoseconds. Each is a pace or a lifetime that makes
    /// sense within these bounds, and keeps the time arithmetic it feeds far from overflow.
    public enum Range {
        static let second: Int64 = 1_000_000_000
        public static let flushInterval: ClosedRange<Int64> = 10_000_000...(3_600 * second)
        public static let timeout: ClosedRange<Int64> = 0...(30 * 86_400 * second)
        public static let activeTimeout: ClosedRange<Int64> = 0...(86_400 * second)
        public static let retention: ClosedRange<Int64> = (60 * second)...(36_500 * 86_400 * second)
        public static let metricsInterval: ClosedRange<Int64> = second...(86_400 * second)
    }

    public var interfaces: [String] = ["any"]
    public var filter: String?
    public var snapLength: Int32 = 8192
    public var database = DaemonConfiguration.defaultDatabase
    /// How often ended flows are committed, in nanoseconds.
    public var flushInterval: Int64 = 1_000_000_000
    /// Flows older than this are deleted (nil keeps them forever).
    public var retentionMaxAge: Int64? = 30 * 86_400 * 1_000_000_000
    /// The oldest flows are deleted while the database is larger than this (nil: no limit).
    public var retentionMaxBytes: Int64? = 1 << 30
    public var timeouts = FlowTimeouts()
    public var localNetworks: [IPNetwork] = []
    public var logLevel = "info"
    /// How log lines are written: with journald's syslog priority prefixes, plain, or chosen by
    /// whether standard error is the journal.
    public var logFormat: PriorityLogHandler.Format = .auto
    /// The rules directory (or file); nil: /etc/telltale/rules.d when it exists, else no rules.
    public var rules: String?
    /// A learning-mode baseline (`telltale rules learn`): flows outside it are alerts too.
    public var baseline: String?
    /// Where alerts go besides the database.
    public var alertLog = true
    public var alertDesktop = true
    public var alertWebhook: String?
    public var alertCommand: [String] = []
    /// The program `alertCommand` runs: its first argument, or the first word of a command line
    /// given to the shell.
    public var alertProgram: String? {
        guard let first = alertCommand.first else { return nil }
        if alertCommand.count == 3, first == "/bin/sh", alertCommand[1] == "-c" {
            return alertCommand[2].split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(String.init)
        }
        return first
    }
    /// Attribute flows from the kernel's socket events (BPF) when they can load; false: polling only.
    public var kernelEvents = true
    /// Metrics and IPFIX: off unless configured.
    public var export = ExportStage.Settings()
    /// Content evidence: off unless asked for (`inspect_content: true`, `--inspect-content`).
    public var content = ContentSettings()

    public init() {}

    /// A configuration error that names the file, the line and what is wrong.
    public struct Problem: Error, Equatable, Sendable, CustomStringConvertible {
        public var file: String
        public var line: Int?
        public var message: String
        public var description: String {
            line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)"
        }
    }

    static let keys: Set<String> = [
        "interfaces", "filter", "snaplen", "database", "flush_interval", "retention", "timeouts", "local_networks",
        "log_level", "log_format", "rules", "alerts", "kernel_events", "baseline", "export", "inspect_content", "content",
    ]

    /// Parses the YAML text of a configuration file on top of the defaults (use `load(file:)` for a file).
    public static func parse(_ text: String, file: String) throws(Problem) -> DaemonConfiguration {
        var config = DaemonConfiguration()
        do {
            try YAMLBounds.check(text)
        } catch {
            throw Problem(file: file, line: error.line, message: error.description)
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw Problem(file: file, line: Self.line(of: error), message: "not valid YAML: \(Self.summary(of: error))")
        } catch {
            throw Problem(file: file, line: nil, message: "not valid YAML: \(error)")
        }
        guard let root else { return config }  // an empty file: all defaults
        guard let mapping = root.mapping else {
            throw Problem(file: file, line: root.mark.map { $0.line }, message: "expected a mapping of settings at the top level")
        }
        func fail(_ node: Node, _ message: String) -> Problem {
            Problem(file: file, line: node.mark.map { $0.line }, message: message)
        }
        func quantity(_ node: Node, _ key: String, _ parse: (String) throws(QuantityError) -> Int64) throws(Problem) -> Int64 {
            guard let text = node.string else { throw fail(node, "\(key): expected a value such as 30s or 512MiB") }
            do { return try parse(text) } catch { throw fail(node, "\(key): \(error)") }
        }
        func duration(_ node: Node, _ key: String, _ range: ClosedRange<Int64>) throws(Problem) -> Int64 {
            try quantity(node, key) { (text) throws(QuantityError) in try Quantity.duration(text, within: range) }
        }
        for (keyNode, value) in mapping {
            guard let key = keyNode.string else { throw fail(keyNode, "a setting name must be text") }
            switch key {
            case "interfaces":
                if let one = value.string { config.interfaces = [one] }
                else if let list = value.sequence {
                    var names: [String] = []
                    for item in list {
                        guard let name = item.string, !name.isEmpty else { throw fail(item, "interfaces: each entry must be an interface name") }
                        names.append(name)
                    }
                    config.interfaces = names.isEmpty ? ["any"] : names
                } else { throw fail(value, "interfaces: expected a name or a list of names") }
            case "filter":
                config.filter = value.null != nil ? nil : value.string
            case "snaplen":
                guard let n = value.int, n >= 128, n <= 262_144 else { throw fail(value, "snaplen: expected a number from 128 to 262144") }
                config.snapLength = Int32(n)
            case "database":
                guard let path = value.string, !path.isEmpty else { throw fail(value, "database: expected a file path") }
                config.database = path
            case "flush_interval":
                config.flushInterval = try duration(value, "flush_interval", Range.flushInterval)
            case "retention":
                guard let section = value.mapping else { throw fail(value, "retention: expected max_age and/or max_size") }
                for (k, v) in section {
                    switch k.string {
                    case "max_age":
                        if v.null != nil || v.string == "forever" { config.retentionMaxAge = nil; continue }
                        config.retentionMaxAge = try duration(v, "retention.max_age", Range.retention)
                    case "max_size":
                        if v.null != nil || v.string == "unlimited" { config.retentionMaxBytes = nil; continue }
                        let b = try quantity(v, "retention.max_size", Quantity.size)
                        guard b > 0 else { throw fail(v, "retention.max_size: expected a size such as 512MiB or 2GB, or 'unlimited'") }
                        config.retentionMaxBytes = b
                    default:
                        throw fail(k, "retention: unknown key '\(k.string ?? "?")' (known: max_age, max_size)")
                    }
                }
            case "timeouts":
                guard let section = value.mapping else { throw fail(value, "timeouts: expected a mapping") }
                for (k, v) in section {
                    let d = try duration(v, "timeouts.\(k.string ?? "?")", k.string == "active" ? Range.activeTimeout : Range.timeout)
                    switch k.string {
                    case "tcp_idle": config.timeouts.tcpIdle = d
                    case "tcp_closed": config.timeouts.tcpClosed = d
                    case "udp_idle": config.timeouts.udpIdle = d
                    case "icmp_idle": config.timeouts.icmpIdle = d
                    case "other_idle": config.timeouts.otherIdle = d
                    case "active": config.timeouts.active = d
                    default:
                        throw fail(k, "timeouts: unknown key '\(k.string ?? "?")' (known: tcp_idle, tcp_closed, udp_idle, icmp_idle, other_idle, active)")
                    }
                }
            case "local_networks":
                guard let list = value.sequence else { throw fail(value, "local_networks: expected a list of CIDRs") }
                config.localNetworks = []
                for item in list {
                    guard let text = item.string, let network = IPNetwork(text) else { throw fail(item, "local_networks: '\(item.string ?? "?")' is not a CIDR such as 192.168.1.0/24") }
                    config.localNetworks.append(network)
                }
            case "kernel_events":
                guard let flag = value.bool else { throw fail(value, "kernel_events: expected true or false") }
                config.kernelEvents = flag
            case "log_level":
                let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
                guard let level = value.string, levels.contains(level) else { throw fail(value, "log_level: expected one of \(levels.joined(separator: ", "))") }
                config.logLevel = level
            case "log_format":
                guard let text = value.string, let format = PriorityLogHandler.Format(rawValue: text) else {
                    throw fail(value, "log_format: expected auto, journal or plain")
                }
                config.logFormat = format
            case "baseline":
                if value.null != nil { config.baseline = nil; continue }
                guard let path = value.string, !path.isEmpty else { throw fail(value, "baseline: expected a file path (telltale rules learn writes one)") }
                config.baseline = path
            case "rules":
                guard let path = value.string, !path.isEmpty else { throw fail(value, "rules: expected a directory or file path") }
                config.rules = path
            case "alerts":
                guard let section = value.mapping else { throw fail(value, "alerts: expected log, desktop, webhook and/or command") }
                for (k, v) in section {
                    switch k.string {
                    case "log":
                        guard let b = v.bool else { throw fail(v, "alerts.log: expected true or false") }
                        config.alertLog = b
                    case "desktop":
                        guard let b = v.bool else { throw fail(v, "alerts.desktop: expected true or false") }
                        config.alertDesktop = b
                    case "webhook":
                        if v.null != nil { config.alertWebhook = nil; continue }
                        guard let url = v.string, url.hasPrefix("http://") else {
                            throw fail(v, "alerts.webhook: expected an http:// URL")
                        }
                        config.alertWebhook = url
                    case "command":
                        if let one = v.string {
                            config.alertCommand = ["/bin/sh", "-c", one]
                        } else {
                            guard let list = v.sequence, !list.isEmpty else { throw fail(v, "alerts.command: expected a command line or a list of arguments") }
                            config.alertCommand = try list.map { item throws(Problem) in
                                guard let text = item.string else { throw fail(item, "alerts.command: each argument must be text") }
                                return text
                            }
                        }
                        // It runs as the daemon's user (root): like OpenSSH's AuthorizedKeysCommand,
                        // the program is named by its absolute path, to be held to the trust of
                        // this file when the file is loaded.
                        guard config.alertProgram?.hasPrefix("/") == true else {
                            throw fail(v, "alerts.command: the program must be an absolute path, such as /usr/local/bin/on-telltale-alert (it runs as the daemon's user)")
                        }
                    default:
                        throw fail(k, "alerts: unknown key '\(k.string ?? "?")' (known: log, desktop, webhook, command)")
                    }
                }
            case "export":
                try parseExport(value, into: &config, fail: fail, quantity: quantity)
            case "inspect_content":
                guard let flag = value.bool else { throw fail(value, "inspect_content: expected true or false") }
                config.content.enabled = flag
            case "content":
                guard let section = value.mapping else {
                    throw fail(value, "content: expected retention, minimum_words, runtime_ports and/or memory")
                }
                for (k, v) in section {
                    switch k.string {
                    case "retention":
                        let d = try quantity(v, "content.retention", Quantity.duration)
                        guard d >= 60_000_000_000, d <= 30 * 86_400_000_000_000 else {
                            throw fail(v, "content.retention: expected a duration from 1m to 30d, such as 24h")
                        }
                        config.content.retention = d
                    case "minimum_words":
                        guard let n = v.int, (4...1000).contains(n) else { throw fail(v, "content.minimum_words: expected a number from 4 to 1000") }
                        config.content.minimumWords = n
                    case "memory":
                        let b = try quantity(v, "content.memory", Quantity.size)
                        guard b >= 1 << 20, b <= 1 << 34 else { throw fail(v, "content.memory: expected a size from 1MiB to 16GiB, such as 64MiB") }
                        config.content.memoryBytes = b
                    case "runtime_ports":
                        guard let list = v.sequence else { throw fail(v, "content.runtime_ports: expected a list of ports, such as [8080, 5001]") }
                        var ports: Set<UInt16> = []
                        for item in list {
                            guard let n = item.int, (1...65535).contains(n) else { throw fail(item, "content.runtime_ports: each entry must be a port from 1 to 65535") }
                            ports.insert(UInt16(n))
                        }
                        config.content.runtimePorts = ports
                    default:
                        throw fail(k, "content: unknown key '\(k.string ?? "?")' (known: retention, minimum_words, memory, runtime_ports)")
                    }
                }
            default:
                throw fail(keyNode, "unknown setting '\(key)' (known: \(keys.sorted().joined(separator: ", ")))")
            }
        }
        return config
    }

    /// The `export` section: `metrics` (textfile, listen, interval, program_labels) and `ipfix`
    /// (collector, transport, template_refresh, observation_domain, enterprise_number).
    static func parseExport(
        _ value: Node, into config: inout DaemonConfiguration, fail: (Node, String) -> Problem,
        quantity: (Node, String, (String) throws(QuantityError) -> Int64) throws(Problem) -> Int64
    ) throws(Problem) {
        guard let section = value.mapping else { throw fail(value, "export: expected metrics and/or ipfix") }
        func address(_ v: Node, _ key: String) throws(Problem) -> SocketAddress? {
            if v.null != nil { return nil }
            guard let text = v.string else { throw fail(v, "\(key): expected an address such as 127.0.0.1:4739") }
            do { return try SocketAddress.parse(text) } catch { throw fail(v, "\(key): \(error.message)") }
        }
        func number(_ v: Node, _ key: String, _ range: ClosedRange<Int>) throws(Problem) -> Int {
            guard let n = v.int, range.contains(n) else { throw fail(v, "\(key): expected a number from \(range.lowerBound) to \(range.upperBound)") }
            return n
        }
        for (k, v) in section {
            switch k.string {
            case "metrics":
                guard let metrics = v.mapping else { throw fail(v, "export.metrics: expected textfile, listen, interval and/or program_labels") }
                for (mk, mv) in metrics {
                    switch mk.string {
                    case "textfile":
                        if mv.null != nil { config.export.metricsTextfile = nil; continue }
                        guard let path = mv.string, path.hasPrefix("/"), path.hasSuffix(".prom") else {
                            throw fail(mv, "export.metrics.textfile: expected an absolute path ending in .prom (node-exporter's textfile directory)")
                        }
                        config.export.metricsTextfile = path
                    case "listen":
                        let a = try address(mv, "export.metrics.listen")
                        if let a, !a.isLocal {
                            throw fail(mv, "export.metrics.listen: only a loopback address (127.0.0.1:PORT, [::1]:PORT) or unix:/path is served")
                        }
                        config.export.metricsListen = a
                    case "interval":
                        config.export.metricsInterval = try quantity(mv, "export.metrics.interval") { (text) throws(QuantityError) in
                            try Quantity.duration(text, within: Range.metricsInterval)
                        }
                    case "program_labels":
                        config.export.programLabels = try number(mv, "export.metrics.program_labels", 1...1000)
                    default:
                        throw fail(mk, "export.metrics: unknown key '\(mk.string ?? "?")' (known: textfile, listen, interval, program_labels)")
                    }
                }
            case "ipfix":
                guard let ipfix = v.mapping else { throw fail(v, "export.ipfix: expected collector, transport, template_refresh, observation_domain and/or enterprise_number") }
                var collectorNode: Node?
                for (ik, iv) in ipfix {
                    switch ik.string {
                    case "collector":
                        config.export.ipfixCollector = try address(iv, "export.ipfix.collector")
                        collectorNode = iv
                    case "allow_group":
                        guard let flag = iv.bool else { throw fail(iv, "export.ipfix.allow_group: expected true or false") }
                        config.export.ipfixAllowGroup = flag
                    case "transport":
                        guard let text = iv.string, let t = IPFIXExporter.Transport(rawValue: text) else {
                            throw fail(iv, "export.ipfix.transport: expected udp or tcp")
                        }
                        config.export.ipfixTransport = t
                    case "template_refresh":
                        let d = try quantity(iv, "export.ipfix.template_refresh", Quantity.duration)
                        guard d >= 1_000_000_000 else { throw fail(iv, "export.ipfix.template_refresh: expected 1s or longer") }
                        config.export.ipfixTemplateRefresh = d
                    case "observation_domain":
                        config.export.ipfixObservationDomain = UInt32(try number(iv, "export.ipfix.observation_domain", 0...Int(Int32.max)))
                    case "enterprise_number":
                        config.export.ipfixEnterpriseNumber = UInt32(try number(iv, "export.ipfix.enterprise_number", 1...Int(Int32.max)))
                    default:
                        throw fail(ik, "export.ipfix: unknown key '\(ik.string ?? "?")' (known: collector, allow_group, transport, template_refresh, observation_domain, enterprise_number)")
                    }
                }
                if let collector = config.export.ipfixCollector, let collectorNode,
                   let problem = collector.collectorProblem(allowGroup: config.export.ipfixAllowGroup) {
                    throw fail(collectorNode, "export.ipfix.collector: \(problem)")
                }
            default:
                throw fail(k, "export: unknown key '\(k.string ?? "?")' (known: metrics, ipfix)")
            }
        }
    }

    static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): mark.line
        default: nil
        }
    }

    static func summary(of error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _): problem
        default: "\(error)"
        }
    }
}
