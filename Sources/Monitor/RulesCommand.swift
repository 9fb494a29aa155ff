import Flows
public import FlowStore
import PacketParsing
public import Policy
public import Reporting

/// `telltale rules`: a rules directory checked, a stored flow's decision explained, a baseline
/// learnt from stored flows. Rules load as the daemon loads them (`RuleEngine.load(configured:)`:
/// the configured path, else the installed directory, else the built-in pack) and are refused the
/// same way.
public enum RulesCommand {
    /// Where installed rules live.
    public static let installedDirectory = RuleEngine.installedDirectory

    /// The rules at `path` (nil or the installed directory: the installed pack, else the built-in one).
    public static func engine(_ path: String?) throws(RulesError) -> RuleEngine {
        try RuleEngine.load(configured: path == installedDirectory ? nil : path).engine
    }

    /// The line `rules check` prints for rules that load.
    public static func check(_ path: String) throws(RulesError) -> String {
        let engine = try engine(path)
        let set = engine.ruleSet
        return "\(engine.path == nil ? DefaultRulePack.location : path): ok: \(set.files.count) files, \(set.roles.count) roles, "
            + "\(set.classes.filter { !$0.name.isEmpty }.count) classes, \(set.rules.count) rules\n"
    }

    /// The decision for a stored flow under the rules at `path` (a flow of an observed run: under
    /// its run's policy, with roles from those rules), as text or one JSON object.
    public static func explain(_ row: FlowRow, rules path: String?, json: Bool) throws(RulesError) -> String {
        let engine: RuleEngine
        let runPolicy = RunPolicy.name(ofRule: row.rule)
        if let runPolicy, let policy = RunPolicy.engine(runPolicy) {
            engine = policy
        } else {
            engine = try Self.engine(path)
        }
        let facts = Self.facts(row)
        let e = engine.explain(facts)
        // A run policy gives no roles; the programs' roles come from the rules as in the daemon.
        var role = (e.role, e.roleMatcher)
        if runPolicy != nil {
            let r = try Self.engine(nil).explain(facts)
            role = (r.role, r.roleMatcher)
        }
        if json { return Self.json(row: row, explanation: e, role: role, runPolicy: runPolicy) + "\n" }
        var out = "flow \(row.uid): \(row.proto) \(row.localAddress):\(row.localPort) → \(row.remoteAddress):\(row.remotePort)"
        if let host = row.hostname { out += " (\(Sanitizer.clean(host)))" }
        out += "\n"
        if let p = row.process {
            out += "process: pid \(p.pid) \(Sanitizer.clean(p.exe ?? p.comm ?? "?"))\(p.cmdline.map { " — \(Sanitizer.clean($0))" } ?? "")\n"
        } else {
            out += "process: none (\(row.unattributedReason ?? "unattributed"))\n"
        }
        if let runPolicy { out += "judged by: the policy of an observed run, rule set \(RunPolicy.rulePrefix)\(runPolicy)\n" }
        out += "role: \(role.0.map { "\($0) (matched at \(role.1 ?? "?"))" } ?? "none")\n"
        out += "scope: \(e.scope.rawValue)\n"
        out += "classes: \(e.classes.isEmpty ? "none" : e.classes.joined(separator: ", "))\n"
        out += "matching rules, in precedence order (the first decides):\n"
        if e.matches.isEmpty { out += "  none\n" }
        for (i, m) in e.matches.enumerated() {
            out += "  \(i + 1). \(m.action) \(m.rule) — \(m.tier) at \(m.location)\n"
        }
        let d = e.decision
        out += "decision: \(d.verdict.rawValue)"
        if let rule = d.rule { out += " by \(rule)" }
        if let severity = d.severity { out += ", severity \(severity.rawValue)" }
        if !d.tags.isEmpty { out += ", tags \(d.tags.joined(separator: ","))" }
        out += "\n"
        if let message = d.message { out += "message: \(Sanitizer.clean(message))\n" }
        if row.verdict != d.verdict || row.rule != d.rule {
            out += "stored verdict: \(row.verdict)\(row.rule.map { " by \($0)" } ?? "") (rules may have changed since)\n"
        }
        // Each line is cleaned on its own: a name or command line from the wire or /proc cannot
        // forge a line, and the report's own line breaks stay.
        return out.split(separator: "\n", omittingEmptySubsequences: false).map { Sanitizer.clean(String($0)) }.joined(separator: "\n")
    }

    /// Whether `text` names a way to key a baseline (`path` or `hash`).
    public static func isBaselineKey(_ text: String) -> Bool { Baseline.Key(rawValue: text) != nil }

    /// A baseline learnt from the attributed flows of `window`, keyed by `key` (`path` or `hash`):
    /// its file's text, its pairs and the flows it was learnt from. One flow at a time: a learning
    /// period of millions of flows holds only the pairs.
    public static func learn(from store: FlowStore, in window: TimeWindow, key: String, now: Int64) throws
        -> (text: String, pairs: Int, flows: Int)
    {
        var baseline = Baseline(key: Baseline.Key(rawValue: key) ?? .path)
        var flows = 0
        try store.forEachFlow(in: window) { row in
            guard row.process != nil else { return }
            baseline.record(Self.facts(row), start: row.start, end: row.end)
            flows += 1
        }
        let notes = ["learnt on \(Timestamp.rfc3339(now)) from \(Count.text(flows, "attributed flow")) in \(store.path)"]
        return (baseline.text(notes: notes, time: Timestamp.rfc3339), baseline.entries.count, flows)
    }

    /// The policy facts of a stored flow.
    static func facts(_ row: FlowRow) -> FlowFacts {
        let process = row.process.map { p in
            ProcessFacts(
                pid: Int32(clamping: p.pid), startTime: p.startTime.map { UInt64(clamping: $0) }, exe: p.exe, sha256: p.sha256,
                cmdline: p.cmdline, comm: p.comm, user: p.user, uid: p.uid.map { UInt32(clamping: $0) }, unit: p.unit,
                container: p.container, parentExe: p.parentExe, program: p.program, programKind: p.programKind)
        }
        var facts = FlowFacts(
            process: process, remoteAddress: IPAddress(row.remoteAddress) ?? IPAddress(v4: 0),
            remotePort: UInt16(clamping: row.remotePort), ipProtocol: row.ipProtocol, scope: row.scope, hostname: row.hostname)
        facts.peerRole = row.peerProcess?.role
        return facts
    }

    static func json(row: FlowRow, explanation e: RuleEngine.Explanation, role: (String?, String?), runPolicy: String?) -> String {
        var w = JSONWriter()
        w.beginObject()
        w.key("flow"); row.writeJSON(to: &w)
        w.key("judged_by"); w.string(runPolicy.map { RunPolicy.rulePrefix + $0 } ?? "rules")
        w.key("role"); w.string(role.0)
        w.key("role_matcher"); w.string(role.1)
        w.key("scope"); w.string(e.scope.rawValue)
        w.key("classes"); w.beginArray(); for c in e.classes { w.string(c) }; w.endArray()
        w.key("matches"); w.beginArray()
        for m in e.matches {
            w.beginObject()
            w.key("action"); w.string(m.action)
            w.key("rule"); w.string(m.rule)
            w.key("tier"); w.string(m.tier)
            w.key("location"); w.string(m.location)
            w.endObject()
        }
        w.endArray()
        let d = e.decision
        w.key("decision"); w.beginObject()
        w.key("verdict"); w.string(d.verdict.rawValue)
        w.key("rule"); w.string(d.rule)
        w.key("severity"); w.string(d.severity?.rawValue)
        w.key("tags"); w.beginArray(); for t in d.tags { w.string(t) }; w.endArray()
        w.key("message"); w.string(d.message)
        w.endObject()
        w.key("stored"); w.beginObject()
        w.key("verdict"); w.string(row.verdict.rawValue)
        w.key("rule"); w.string(row.rule)
        w.endObject()
        w.endObject()
        return w.text
    }
}
