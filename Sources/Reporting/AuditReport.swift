import Flows
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
    /// What content inspection saw (nil: it was off, and the audit says why).
    public var content: ContentSection?
    /// Why content was not inspected, when it was not.
    public var contentOff: String?

    /// The audit's content section: the prompts seen going to a runtime (never their text), which
    /// flows off this machine carried their words, and how much could be read at all.
    public struct ContentSection: Sendable {
        /// A prompt fingerprinted: when, who sent it, to which runtime and endpoint, how many words.
        public struct Prompt: Sendable {
            public var time: Int64
            public var requester: String
            public var runtime: String
            public var endpoint: String
            public var words: Int
            public init(time: Int64, requester: String, runtime: String, endpoint: String, words: Int) {
                self.time = time
                self.requester = requester
                self.runtime = runtime
                self.endpoint = endpoint
                self.words = words
            }
        }

        /// A content alert of the run: the flow, and the evidence (no text).
        public struct Leak: Sendable {
            public var flowUID: String
            public var program: String
            public var destination: String
            public var evidence: AlertRecord.ContentEvidence
            public init(flowUID: String, program: String, destination: String, evidence: AlertRecord.ContentEvidence) {
                self.flowUID = flowUID
                self.program = program
                self.destination = destination
                self.evidence = evidence
            }
        }

        public var prompts: [Prompt]
        public var leaks: [Leak]
        /// Payload bytes that could not be inspected (budget, capture, probe drops).
        public var droppedBytes: Int64
        /// Whether TLS writes were probed (uprobes on OpenSSL), and why not when they were not.
        public var tlsProbes: String

        public init(prompts: [Prompt], leaks: [Leak], droppedBytes: Int64, tlsProbes: String) {
            self.prompts = prompts
            self.leaks = leaks
            self.droppedBytes = droppedBytes
            self.tlsProbes = tlsProbes
        }
    }

    /// Flows leaving this machine by visibility: how much of what left could be read.
    func egressVisibility() -> [(String, Int)] {
        var counts: [String: Int] = [:]
        for r in treeFlows + unattributedFlows where r.scope != .loopback {
            counts[r.content?.visibility ?? "not-inspected", default: 0] += 1
        }
        return ["tls-plaintext", "wire-plaintext", "opaque", "not-inspected"].compactMap { v in counts[v].map { (v, $0) } }
    }

    /// The content match records of the evidence bundle, one JSON object each: every prompt seen
    /// (who, where, when, how many words: never the words) and every leak found.
    public func contentRecords() -> [String] {
        guard let content else { return [] }
        var records: [String] = []
        for p in content.prompts {
            var w = JSONWriter()
            p.write(to: &w, record: true)
            records.append(w.text)
        }
        for leak in content.leaks {
            var w = JSONWriter()
            leak.write(to: &w, record: true)
            records.append(w.text)
        }
        return records
    }

    /// The content section in words, one line each: `depth` 0 is the summary, 1 the facts under it,
    /// 2 the items of a list (each format indents them its own way).
    func contentLines() -> [(depth: Int, text: String)] {
        guard let content else {
            return [(0, "not inspected\(contentOff.map { " (\($0))" } ?? "")")]
        }
        var lines: [(depth: Int, text: String)] = []
        lines.append((0, "\(Count.text(content.prompts.count, "prompt")) seen going to a model runtime (kept as fingerprints, never text)"))
        for p in content.prompts.prefix(20) {
            lines.append((2, "\(Timestamp.local(p.time)) \(Sanitizer.clean(p.requester)) → \(Sanitizer.clean(p.runtime)) \(p.endpoint): \(Count.text(p.words, "word"))"))
        }
        if content.prompts.count > 20 { lines.append((2, "… and \(content.prompts.count - 20) more")) }
        let leaking = Set(content.leaks.map(\.flowUID)).count
        lines.append((1, "egress flows carrying a prompt's words or a canary: \(leaking)"))
        for leak in content.leaks {
            let what = leak.evidence.canary.map { "the canary \"\(Sanitizer.clean($0))\"" }
                ?? "\(leak.evidence.matchedWords) words of a prompt \(Sanitizer.clean(leak.evidence.promptProcess ?? "?")) gave \(Sanitizer.clean(leak.evidence.runtime ?? "a runtime"))"
            lines.append((2, "! \(Sanitizer.clean(leak.program)) sent \(what) to \(Sanitizer.clean(leak.destination)) (\(leak.evidence.visibility), flow \(leak.flowUID))"))
        }
        let visibility = egressVisibility()
        let inspected = visibility.filter { $0.0 == "tls-plaintext" || $0.0 == "wire-plaintext" }
            .map { "\($0.1) as \($0.0.split(separator: "-").joined(separator: " "))" }
        let opaque = visibility.first { $0.0 == "opaque" }?.1 ?? 0
        let notInspected = visibility.first { $0.0 == "not-inspected" }?.1 ?? 0
        lines.append((1, "inspected: \(inspected.isEmpty ? "no flow left this machine" : inspected.joined(separator: ", ")); opaque: \(opaque)\(opaque > 0 ? " (encrypted by a TLS stack Telltale does not probe: not known to be clean)" : ""); not inspected: \(notInspected)"))
        lines.append((1, "TLS probes: \(content.tlsProbes); \(ByteCount.text(content.droppedBytes)) of payload not inspected"))
        return lines
    }

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

    public var violations: [FlowRow] { treeFlows.filter { $0.verdict == .alert } }

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
        return Sanitizer.clean("\(p.displayName)[\(p.pid)] \(p.exe ?? "")")
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
        for (depth, line) in contentLines() {
            out += ["  content    ", "             ", "               "][depth] + line + "\n"
        }
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
        w.key("content")
        if let content {
            w.beginObject()
            w.key("prompts"); w.beginArray()
            for p in content.prompts { p.write(to: &w, record: false) }
            w.endArray()
            w.key("leaks"); w.beginArray()
            for leak in content.leaks { leak.write(to: &w, record: false) }
            w.endArray()
            w.key("egress_visibility"); w.beginObject()
            for (v, n) in egressVisibility() { w.key(v); w.int(n) }
            w.endObject()
            w.key("dropped_bytes"); w.int(content.droppedBytes)
            w.key("tls_probes"); w.string(content.tlsProbes)
            w.endObject()
        } else {
            w.null()
        }
        w.key("verdict"); w.string(isClean ? "clean" : "violation")
        w.endObject()
        return w.text + "\n"
    }

    /// The report as Markdown, for sharing.
    public func markdown() -> String {
        func cell(_ s: String) -> String { Sanitizer.clean(s).split(separator: "|", omittingEmptySubsequences: false).joined(separator: "\\|") }
        var out = "# Telltale \(kind) audit\n\n"
        out += "**\(cell(verdictLine))**\n\n"
        out += "| | |\n|---|---|\n"
        out += "| command | `\(cell(ShellWords.join(command)))` |\n"
        out += "| window | \(Timestamp.rfc3339(start)) → \(Timestamp.rfc3339(end)) |\n"
        out += "| exit status | \(exitStatus) |\n"
        out += "| capture | \(cell(interfaces.joined(separator: ", "))); \(packets) packets, \(dropped) dropped |\n"
        if !attribution.isEmpty { out += "| attribution | \(cell(attribution)); \(eventDropped) socket events dropped |\n" }
        out += "| policy | \(cell(policy)) |\n"
        for (depth, line) in contentLines() { out += "| \(depth == 0 ? "content" : "") | \(cell(line)) |\n" }
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

extension AuditReport.ContentSection.Prompt {
    /// One JSON object; `record` adds `"record": "prompt"` (the evidence bundle's lines).
    func write(to w: inout JSONWriter, record: Bool) {
        w.beginObject()
        if record { w.key("record"); w.string("prompt") }
        w.key("time"); w.string(Timestamp.rfc3339(time))
        w.key("requester"); w.string(requester)
        w.key("runtime"); w.string(runtime)
        w.key("endpoint"); w.string(endpoint)
        w.key("words"); w.int(words)
        w.endObject()
    }
}

extension AuditReport.ContentSection.Leak {
    /// One JSON object; `record` adds `"record": "match"` (the evidence bundle's lines).
    func write(to w: inout JSONWriter, record: Bool) {
        w.beginObject()
        if record { w.key("record"); w.string("match") }
        w.key("flow_uid"); w.string(flowUID)
        w.key("program"); w.string(program)
        w.key("destination"); w.string(destination)
        w.key("matched_words"); w.int(evidence.matchedWords)
        w.key("prompt_seen"); w.string(evidence.promptSeen)
        w.key("prompt_process"); w.string(evidence.promptProcess)
        w.key("runtime"); w.string(evidence.runtime)
        w.key("visibility"); w.string(evidence.visibility)
        w.key("canary"); w.string(evidence.canary)
        w.endObject()
    }
}
