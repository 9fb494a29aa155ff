import ArgumentParser
import FlowStore
import Foundation
import Monitor
import PacketParsing
import Policy
import Posix
import Reporting

extension Telltale {
    /// `telltale rules check` and `telltale rules explain`.
    struct Rules: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check rules files, and explain the decision for a flow.",
            subcommands: [Check.self, Explain.self, Learn.self]
        )

        static let defaultDirectory = RuleEngine.installedDirectory

        /// The rules at `path` (nil or the installed directory: the installed pack, else the built-in
        /// one, as the daemon chooses). Prints every problem and exits 1 when broken.
        static func engine(_ path: String?) throws -> RuleEngine {
            do {
                return try RuleEngine.load(configured: path == defaultDirectory ? nil : path).engine
            } catch {
                for problem in error.problems { Output.error(Sanitizer.clean(problem.description)) }
                throw ExitCode(1)
            }
        }

        /// How `path` is named in output: the built-in pack when `engine(path)` chose it.
        static func name(_ path: String, _ engine: RuleEngine) -> String {
            engine.path == nil ? DefaultRulePack.location : path
        }

        struct Check: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Validate a rules directory (or one file).",
                discussion: """
                    Prints every problem as FILE:LINE: what is wrong, and exits 1 when there is any. A \
                    directory or file that group or others may write, or that neither root nor you own, \
                    is refused, as OpenSSH refuses a loose key.
                    """
            )

            @Argument(help: "Rules directory or file (default /etc/telltale/rules.d; when that is not there, the built-in default rules).")
            var path: String = Rules.defaultDirectory

            func run() throws {
                let engine = try Rules.engine(path)
                let set = engine.ruleSet
                Output.write("\(Rules.name(path, engine)): ok: \(set.files.count) files, \(set.roles.count) roles, "
                    + "\(set.classes.filter { !$0.name.isEmpty }.count) classes, \(set.rules.count) rules\n")
                Output.flush()
            }
        }

        struct Explain: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Show which rules match a stored flow, in precedence order, and the decision.",
                discussion: """
                    The flow is read from the database; the rules are the ones on disk now. A flow of an \
                    observed run (`telltale run`/`infer`) is explained by the run's policy, a rule set of \
                    its own (run/loopback-only, run/model-runtime, run/chatbot-ui). Facts the database \
                    does not keep (ancestors beyond the parent, open files, listening ports) are not known \
                    to the explanation.
                    """
            )

            @OptionGroup var database: DatabaseOption

            @Option(help: "Rules directory or file (default /etc/telltale/rules.d; when that is not there, the built-in default rules).")
            var rules: String = Rules.defaultDirectory

            @Argument(help: "The flow's uid (from telltale report --by flow).")
            var uid: String

            @Option(name: .shortAndLong, help: "Output format: table (text) or json.")
            var format: OutputFormat = .table

            func validate() throws {
                if format != .table && format != .json { throw ValidationError("--format: rules explain prints table or json") }
            }

            func run() throws {
                let store = try database.open()
                let row: FlowRow
                do {
                    guard let found = try store.flows(in: TimeWindow(), uid: uid).first else {
                        Output.error("telltale: no flow with uid \(Sanitizer.clean(uid)) in \(store.path)")
                        throw ExitCode(1)
                    }
                    row = found
                } catch let error as StoreError {
                    Output.error("telltale: \(error)")
                    throw ExitCode(1)
                }
                let engine: RuleEngine
                let runPolicy = RunPolicy.name(ofRule: row.rule)
                if let runPolicy, let policy = RunPolicy.engine(runPolicy) {
                    engine = policy
                } else {
                    engine = try Rules.engine(rules)
                }
                let facts = Rules.facts(row)
                let e = engine.explain(facts)
                // A run policy gives no roles; the programs' roles come from the rules as in the daemon.
                var role = (e.role, e.roleMatcher)
                if runPolicy != nil {
                    let r = try Rules.engine(nil).explain(facts)
                    role = (r.role, r.roleMatcher)
                }
                if format == .json {
                    Output.write(Self.json(row: row, explanation: e, role: role, runPolicy: runPolicy) + "\n")
                    Output.flush()
                    return
                }
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
                if row.verdict != d.verdict.rawValue || row.rule != d.rule {
                    out += "stored verdict: \(row.verdict)\(row.rule.map { " by \($0)" } ?? "") (rules may have changed since)\n"
                }
                // Each line is cleaned on its own: a name or command line from the wire or /proc cannot
                // forge a line, and the report's own line breaks stay.
                Output.write(out.split(separator: "\n", omittingEmptySubsequences: false).map { Sanitizer.clean(String($0)) }.joined(separator: "\n"))
                Output.flush()
            }
        }

        struct Learn: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Learning mode: write the (program, destination) pairs of stored flows as a baseline.",
                discussion: """
                    Reads the flows of the window (e.g. a week of normal use recorded by the daemon) and \
                    writes each program's destinations to FILE (mode 0640), one entry per line: the \
                    program's name, its executable, sha256, destination, first and last time seen, and \
                    the number of flows, under a header that says how it was made. Review it, then give \
                    it to the daemon (`baseline: FILE` in its configuration, or --baseline FILE): from \
                    then on a flow whose program never reached its destination while learning is an \
                    alert (rule learning/new-destination), on top of the rules.

                    A program is matched by its executable's path (--by path, the default: an update \
                    keeps the baseline) or by its sha256 (--by hash: any change of the file is a new \
                    program). The destination is the observed host name, else the address. Fields are \
                    tab-separated; a byte that is not plain text (a tab or newline in a path, a \
                    terminal escape) is written as %XX, and the daemon refuses a file holding raw ones.

                    Examples:
                      telltale rules learn --since 7d --out /etc/telltale/baseline.tsv
                      telltale rules learn --since 7d --by hash --out /etc/telltale/baseline.tsv
                    """
            )

            @OptionGroup var database: DatabaseOption
            @OptionGroup var window: WindowOptions

            @Option(help: "The baseline file to write.")
            var out: String

            @Option(help: ArgumentHelp("Match programs by their executable's path or its sha256.", valueName: "path|hash"))
            var by: String = "path"

            func validate() throws {
                if Baseline.Key(rawValue: by) == nil { throw ValidationError("--by: expected path or hash") }
            }

            func run() throws {
                let store = try database.open()
                var baseline = Baseline(key: Baseline.Key(rawValue: by) ?? .path)
                var flows = 0
                do {
                    // One flow at a time: a learning period of millions of flows holds only the pairs.
                    try store.forEachFlow(in: window.window(now: SystemClock.wallNanoseconds())) { row in
                        guard row.process != nil else { return }
                        baseline.record(Rules.facts(row), start: row.start, end: row.end)
                        flows += 1
                    }
                } catch {
                    Output.error("telltale: \(error)")
                    throw ExitCode(1)
                }
                let now = SystemClock.wallNanoseconds()
                let notes = ["learnt on \(Timestamp.rfc3339(now)) from \(Count.text(flows, "attributed flow")) in \(store.path)"]
                do {
                    try PrivateFile.write(Array(baseline.text(notes: notes, time: Timestamp.rfc3339).utf8), to: out, mode: 0o640)
                } catch {
                    Output.error("telltale: cannot write \(out): \(error)")
                    throw ExitCode(1)
                }
                Output.write("\(out): \(baseline.entries.count) (program, destination) pairs from \(Count.text(flows, "attributed flow")), keyed by \(baseline.key.rawValue)\n")
                Output.flush()
            }
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
    }
}

extension Telltale.Rules.Explain {
    /// The explanation as one JSON object: the flow (the contract's shape), the role, the
    /// scope, the classes, the matching rules in precedence order, the decision, and the stored verdict.
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
        w.key("verdict"); w.string(row.verdict)
        w.key("rule"); w.string(row.rule)
        w.endObject()
        w.endObject()
        return w.text
    }
}
