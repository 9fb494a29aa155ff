public import PacketParsing

/// The standing answer for one program or role over a window: did it ever leave this machine?
/// "ollama: loopback only since 7 Nov, 1,204 flows over 30 days", or "reached the internet: last at
/// …, to …, rule …".
public struct StandingVerdict: Sendable, Equatable {
    /// How far its flows reached, the farthest one deciding.
    public enum Reach: String, Sendable, Equatable, Comparable {
        /// Every flow stayed on this machine.
        case loopbackOnly = "loopback-only"
        /// Some flows went to the local network (LAN, link-local, multicast), none further.
        case localNetwork = "local-network"
        /// At least one flow reached the internet.
        case internet

        public static func < (a: Reach, b: Reach) -> Bool { a.rank < b.rank }

        /// How far a flow to this scope reaches.
        public init(_ scope: AddressScope) {
            switch scope {
            case .loopback: self = .loopbackOnly
            case .internet: self = .internet
            case .lan, .linkLocal, .multicast: self = .localNetwork
            }
        }
        var rank: Int { self == .loopbackOnly ? 0 : self == .localNetwork ? 1 : 2 }
    }

    /// The last flow that reached the internet.
    public struct Egress: Sendable, Equatable {
        public var time: Int64
        public var destination: String
        public var rule: String?
        public var verdict: String?
        public init(time: Int64, destination: String, rule: String?, verdict: String?) {
            self.time = time
            self.destination = destination
            self.rule = rule
            self.verdict = verdict
        }
    }

    /// `program` or `role`.
    public var grouping: String
    /// The program (as people know it) or the role; "unattributed" for flows without a process.
    public var key: String
    /// For a program: the roles its processes had.
    public var roles: [String]
    public var flows: Int64
    public var first: Int64
    public var last: Int64
    public var bytesOut: Int64
    public var internetFlows: Int64
    public var internetBytesOut: Int64
    public var reach: Reach
    public var lastEgress: Egress?

    public init(
        grouping: String, key: String, roles: [String], flows: Int64, first: Int64, last: Int64, bytesOut: Int64,
        internetFlows: Int64, internetBytesOut: Int64, reach: Reach, lastEgress: Egress?
    ) {
        self.grouping = grouping
        self.key = key
        self.roles = roles
        self.flows = flows
        self.first = first
        self.last = last
        self.bytesOut = bytesOut
        self.internetFlows = internetFlows
        self.internetBytesOut = internetBytesOut
        self.reach = reach
        self.lastEgress = lastEgress
    }

    /// Whole days between the first and the last flow, at least one.
    public var days: Int64 { max(1, (last - first + 86_399_999_999_999) / 86_400_000_000_000) }

    /// The name with its roles: `open-webui [chatbot-ui]`.
    public var label: String {
        roles.isEmpty ? key : "\(key) [\(roles.joined(separator: ", "))]"
    }

    /// The sentence people read.
    public var sentence: String {
        let span = "\(Count.text(flows, "flow")) over \(Count.text(days, "day"))"
        switch reach {
        case .loopbackOnly:
            return "loopback only since \(Timestamp.local(first)), \(span)"
        case .localNetwork:
            return "stayed on this machine and the local network since \(Timestamp.local(first)), \(span)"
        case .internet:
            var text = "reached the internet"
            if let e = lastEgress {
                text += ": last at \(Timestamp.local(e.time)), to \(e.destination)"
                if let rule = e.rule { text += ", rule \(rule)" }
            }
            return text + " (\(internetFlows) of \(span), \(ByteCount.text(internetBytesOut)) sent out)"
        }
    }
}

extension StandingVerdict {
    /// One line over the programs: how many stayed on this machine, on the local network, and which
    /// reached the internet (the first few, most recent first).
    public static func summary(_ verdicts: [StandingVerdict]) -> String {
        let programs = verdicts.filter { $0.grouping == "program" }
        guard !programs.isEmpty else { return "no flows" }
        let counts = Dictionary(grouping: programs, by: \.reach).mapValues(\.count)
        var parts = ["\(Count.text(counts[.loopbackOnly] ?? 0, "program")) loopback only"]
        if let near = counts[.localNetwork] { parts.append("\(near) on the local network") }
        let out = programs.filter { $0.reach == .internet }
        if out.isEmpty {
            parts.append("none reached the internet")
        } else {
            let named = out.prefix(3).map { v in
                Sanitizer.clean(v.key) + (v.lastEgress.map { " (last \(Timestamp.local($0.time)))" } ?? "")
            }
            parts.append("\(out.count) reached the internet: " + named.joined(separator: ", ") + (out.count > 3 ? ", …" : ""))
        }
        return parts.joined(separator: ", ")
    }
}

/// Renders `telltale verdicts`: a line per program or role, or the contract's JSON.
public struct VerdictRenderer: Sendable {
    public var format: OutputFormat
    public var terminal: Bool

    public init(format: OutputFormat, terminal: Bool) {
        self.format = format
        self.terminal = terminal
    }

    public func render(_ verdicts: [StandingVerdict], window: String) -> String {
        switch format {
        case .json:
            var w = JSONWriter()
            w.beginObject()
            w.key("window")
            w.string(window)
            w.key("verdicts")
            w.beginArray()
            for v in verdicts { write(v, to: &w) }
            w.endArray()
            w.endObject()
            return w.text + "\n"
        case .ndjson:
            return verdicts.map { v in
                var w = JSONWriter()
                write(v, to: &w)
                return w.text + "\n"
            }.joined()
        default:
            guard !verdicts.isEmpty else { return "no flows in this window\n" }
            var out = ""
            for grouping in ["program", "role"] {
                let group = verdicts.filter { $0.grouping == grouping }
                guard !group.isEmpty else { continue }
                out += (grouping == "program" ? "programs" : "roles") + " (\(window), times in \(Timestamp.localZone(at: group[0].last))):\n"
                let width = min(40, group.map { Sanitizer.clean($0.label).count }.max() ?? 0)
                for v in group {
                    let label = Sanitizer.clean(v.label)
                    let padded = label.count >= width ? label : label + String(repeating: " ", count: width - label.count)
                    let mark = v.reach == .internet ? (terminal ? "\u{1B}[31m!\u{1B}[0m" : "!") : " "
                    out += "\(mark) \(padded)  \(Sanitizer.clean(v.sentence))\n"
                }
            }
            return out
        }
    }

    func write(_ v: StandingVerdict, to w: inout JSONWriter) {
        w.beginObject()
        w.key("grouping"); w.string(v.grouping)
        w.key(v.grouping); w.string(v.key)
        w.key("roles"); w.beginArray(); for r in v.roles { w.string(r) }; w.endArray()
        w.key("reach"); w.string(v.reach.rawValue)
        w.key("since"); w.string(Timestamp.rfc3339(v.first))
        w.key("last_seen"); w.string(Timestamp.rfc3339(v.last))
        w.key("flows"); w.int(v.flows)
        w.key("days"); w.int(v.days)
        w.key("bytes_out"); w.int(v.bytesOut)
        w.key("internet_flows"); w.int(v.internetFlows)
        w.key("internet_bytes_out"); w.int(v.internetBytesOut)
        if let e = v.lastEgress {
            w.key("last_internet")
            w.beginObject()
            w.key("time"); w.string(Timestamp.rfc3339(e.time))
            w.key("destination"); w.string(e.destination)
            w.key("rule"); w.string(e.rule)
            w.key("verdict"); w.string(e.verdict)
            w.endObject()
        }
        w.key("text"); w.string(v.sentence)
        w.endObject()
    }
}
