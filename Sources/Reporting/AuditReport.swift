public import PacketParsing

/// The evidence of an observed run (`telltale run` and `infer`): the window, the command's flows with
/// their verdicts, the rest of the machine's traffic, and the verdict.
public struct AuditReport: Sendable {
    public var kind: String
    public var command: [String]
    public var start: Int64
    public var end: Int64
    public var exitStatus: Int32
    public var interfaces: [String]
    public var isolated: Bool
    /// What the command's tree may reach, in words ("loopback only").
    public var policy: String
    /// The tree's flows, each with `verdict` set (`allowed` or `alert`) and `rule` naming why.
    public var treeFlows: [FlowRow]
    public var otherFlows: Int
    public var unattributedFlows: [FlowRow]
    public var packets: Int64
    public var dropped: Int64
    public var damaged: Int64
    /// How flows were attributed: `kernel socket events`, or `polling (why)`.
    public var attribution = ""
    /// Socket events the kernel dropped during the run (ring buffer full).
    public var eventDropped: Int64 = 0
    public var completion: String?
    /// Model and runtime facts for `infer`, as ordered key/value pairs.
    public var model: [(String, String)] = []
    public var runtime: [(String, String)] = []

    public init(
        kind: String, command: [String], start: Int64, end: Int64, exitStatus: Int32, interfaces: [String],
        isolated: Bool, policy: String, treeFlows: [FlowRow], otherFlows: Int, unattributedFlows: [FlowRow],
        packets: Int64, dropped: Int64, damaged: Int64
    ) {
        self.kind = kind
        self.command = command
        self.start = start
        self.end = end
        self.exitStatus = exitStatus
        self.interfaces = interfaces
        self.isolated = isolated
        self.policy = policy
        self.treeFlows = treeFlows
        self.otherFlows = otherFlows
        self.unattributedFlows = unattributedFlows
        self.packets = packets
        self.dropped = dropped
        self.damaged = damaged
    }

    public var violations: [FlowRow] { treeFlows.filter { $0.verdict == "alert" } }

    /// Flows during the run that left loopback and that no process could be found for: they may be
    /// the command's (a socket closed before it could be looked up), so they count against a clean
    /// verdict. The kernel's own messages (ICMP errors, neighbour discovery, resets) do not.
    public var suspects: [FlowRow] {
        unattributedFlows.filter { row in
            row.scope != .loopback && row.start >= start && row.start <= end + 1_000_000_000
                && row.unattributedReason != "kernel" && row.unattributedReason != "raw-frame"
        }
    }

    public var isClean: Bool { violations.isEmpty && suspects.isEmpty }

    /// The verdict in one line.
    public var verdictLine: String {
        if violations.isEmpty && !suspects.isEmpty {
            return "verdict: NOT CLEAN — \(suspects.count) flow\(suspects.count == 1 ? "" : "s") left this machine during the run without a process to account for \(suspects.count == 1 ? "it" : "them"); they may be the command's"
        }
        if isClean {
            let drops = dropped > 0 ? " (but the capture dropped \(dropped) packets: the evidence is incomplete)" : ""
            return "verdict: CLEAN — nothing the command's processes sent left this machine (\(policy))" + drops
        }
        return "verdict: VIOLATION — \(violations.count) flow\(violations.count == 1 ? "" : "s") of the command broke the policy (\(policy))"
    }

    func destination(_ r: FlowRow) -> String {
        let endpoint = r.proto == "tcp" || r.proto == "udp" || r.proto == "sctp" ? "\(r.remoteAddress):\(r.remotePort)" : r.remoteAddress
        return Sanitizer.clean(r.hostname.map { "\($0) (\(endpoint))" } ?? endpoint)
    }

    func who(_ r: FlowRow) -> String {
        guard let p = r.process else { return "?" }
        return Sanitizer.clean("\(p.comm ?? "?")[\(p.pid)] \(p.exe ?? "")")
    }

    /// The report for a terminal.
    public func text(terminal: Bool = false) -> String {
        var out = "telltale \(kind): \(Sanitizer.clean(ShellWords.join(command)))\n"
        let seconds = Double(end - start) / 1e9
        out += "  window     \(Timestamp.local(start, milliseconds: true)) → \(Timestamp.local(end, milliseconds: true)) \(Timestamp.localZone(at: start)) (\((seconds * 100).rounded() / 100) s); command exited with status \(exitStatus)\n"
        out += "  capture    \(interfaces.joined(separator: ", ")); \(packets) packets seen, \(dropped) dropped, \(damaged) damaged\n"
        if !attribution.isEmpty {
            out += "  attribution \(attribution); \(eventDropped) socket events dropped\n"
        }
        out += "  policy     \(policy)\(isolated ? "; the command ran isolated (network namespace with loopback only)" : "")\n"
        for (key, value) in model { out += "  model      \(key): \(Sanitizer.clean(value))\n" }
        for (key, value) in runtime { out += "  runtime    \(key): \(Sanitizer.clean(value))\n" }
        out += "\nflows of the command's processes: \(treeFlows.count)\n"
        if !treeFlows.isEmpty {
            out += FlowRenderer(format: .table, terminal: terminal).table(treeFlows, includeHeader: true)
        }
        var byScope: [String: (Int, Int64)] = [:]
        for r in unattributedFlows {
            byScope[r.scope.rawValue, default: (0, 0)].0 += 1
            byScope[r.scope.rawValue, default: (0, 0)].1 += r.bytesOut + r.bytesIn
        }
        let unattributedText = byScope.isEmpty ? "none"
            : byScope.sorted { $0.key < $1.key }.map { "\($0.value.0) \($0.key) (\(ByteCount.text($0.value.1)))" }.joined(separator: ", ")
        out += "\nthe rest of the machine in the window: \(Count.text(otherFlows, "flow")) of other processes; unattributed: \(unattributedText)\n\n"
        for v in violations {
            out += "  ! \(v.proto) to \(destination(v)) [\(v.scope.rawValue)] by \(who(v)): \(ByteCount.text(v.bytesOut)) out, \(ByteCount.text(v.bytesIn)) in\n"
        }
        for v in suspects {
            out += "  ? \(v.proto) from port \(v.localPort) to \(destination(v)) [\(v.scope.rawValue)], no process (\(v.unattributedReason ?? "unknown")): \(ByteCount.text(v.bytesOut)) out, \(ByteCount.text(v.bytesIn)) in\n"
        }
        out += verdictLine + "\n"
        return out
    }

    /// The report as one JSON object (the flows in the contract's shape).
    public func json() -> String {
        var w = JSONWriter()
        w.beginObject()
        w.key("kind"); w.string(kind)
        w.key("command"); w.beginArray(); for c in command { w.string(c) }; w.endArray()
        w.key("start"); w.string(Timestamp.rfc3339(start))
        w.key("end"); w.string(Timestamp.rfc3339(end))
        w.key("exit_status"); w.int(exitStatus)
        w.key("interfaces"); w.beginArray(); for i in interfaces { w.string(i) }; w.endArray()
        w.key("isolated"); w.bool(isolated)
        w.key("policy"); w.string(policy)
        w.key("packets"); w.int(packets)
        w.key("dropped"); w.int(dropped)
        w.key("damaged"); w.int(damaged)
        w.key("attribution"); w.string(attribution)
        w.key("event_dropped"); w.int(eventDropped)
        if let completion { w.key("completion"); w.string(completion) }
        if !model.isEmpty {
            w.key("model"); w.beginObject(); for (k, v) in model { w.key(k); w.string(v) }; w.endObject()
        }
        if !runtime.isEmpty {
            w.key("runtime"); w.beginObject(); for (k, v) in runtime { w.key(k); w.string(v) }; w.endObject()
        }
        w.key("flows"); w.beginArray(); for r in treeFlows { r.writeJSON(to: &w) }; w.endArray()
        w.key("other_flows"); w.int(otherFlows)
        w.key("unattributed_flows"); w.beginArray(); for r in unattributedFlows { r.writeJSON(to: &w) }; w.endArray()
        w.key("violations"); w.int(violations.count)
        w.key("unaccounted_egress"); w.int(suspects.count)
        w.key("verdict"); w.string(isClean ? "clean" : "violation")
        w.endObject()
        return w.text + "\n"
    }

    /// The report as Markdown, for sharing.
    public func markdown() -> String {
        func cell(_ s: String) -> String { Sanitizer.clean(s).split(separator: "|", omittingEmptySubsequences: false).joined(separator: "\\|") }
        var out = "# Telltale \(kind) audit\n\n"
        out += "**\(isClean ? "Clean" : "Violation")** — \(cell(verdictLine))\n\n"
        out += "| | |\n|---|---|\n"
        out += "| command | `\(cell(ShellWords.join(command)))` |\n"
        out += "| window | \(Timestamp.rfc3339(start)) → \(Timestamp.rfc3339(end)) |\n"
        out += "| exit status | \(exitStatus) |\n"
        out += "| capture | \(cell(interfaces.joined(separator: ", "))); \(packets) packets, \(dropped) dropped |\n"
        if !attribution.isEmpty { out += "| attribution | \(cell(attribution)); \(eventDropped) socket events dropped |\n" }
        out += "| policy | \(cell(policy)) |\n"
        for (k, v) in model { out += "| model \(cell(k)) | \(cell(v)) |\n" }
        for (k, v) in runtime { out += "| runtime \(cell(k)) | \(cell(v)) |\n" }
        out += "\n## Flows of the command's processes (\(treeFlows.count))\n\n"
        if treeFlows.isEmpty {
            out += "None.\n"
        } else {
            out += "| start | proto | local | remote | scope | host | out | in | process | verdict |\n|---|---|---|---|---|---|---|---|---|---|\n"
            for r in treeFlows {
                out += "| \(Timestamp.rfc3339(r.start)) | \(r.proto) | \(r.localAddress):\(r.localPort) | \(r.remoteAddress):\(r.remotePort) | \(r.scope.rawValue) | \(cell(r.hostname ?? "")) | \(r.bytesOut) | \(r.bytesIn) | \(cell(who(r))) | \(r.verdict) |\n"
            }
        }
        out += "\n## The rest of the machine\n\n\(Count.text(otherFlows, "flow")) of other processes; \(Count.text(unattributedFlows.count, "flow")) without a process.\n"
        if let completion {
            let lines = completion.split(separator: "\n", omittingEmptySubsequences: false).map { Sanitizer.clean(String($0)) }
            out += "\n## Completion\n\n```\n\(lines.joined(separator: "\n"))\n```\n"
        }
        return out
    }
}
