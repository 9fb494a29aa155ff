public import Flows
import PacketParsing
public import Policy
import ProcessAttribution
public import Reporting
import Synchronization

/// Turns flow records into report rows facing this machine, with their process (when attribution
/// runs) and the rules' verdict (when rules are loaded) — the one place where a record becomes a
/// row, for `capture`, `run` and the daemon.
public final class FlowEnricher: Sendable {
    private let local: Mutex<LocalNetwork>
    public let attribution: AttributionWorker?
    private let rules: Mutex<RuleEngine?>
    private let learned: Mutex<Baseline?>
    /// A run's policy (`run/loopback-only`, …): when set, it gives the verdict and the rules give
    /// the roles, so a run is judged on the daemon's path with the same facts.
    public let policyOverlay: RuleEngine?
    /// Processes that called a model runtime's API over loopback, by (pid, start time): chat clients
    /// by relation, whatever their name. Bounded: forgotten all at once past `relationLimit`.
    private let relations = Mutex<[ProcessKey: String]>([:])
    private static let relationLimit = 65_536
    /// Ports of model runtimes Telltale does not know by name (configured), beside ollama's.
    public let runtimePorts: Set<UInt16>
    /// Content inspection, when on: each row says what could be seen of its flow.
    public let content: ContentInspector?

    public init(
        local: LocalNetwork, attribution: AttributionWorker?, rules: RuleEngine? = nil, policyOverlay: RuleEngine? = nil,
        runtimePorts: Set<UInt16> = [], content: ContentInspector? = nil
    ) {
        self.runtimePorts = runtimePorts
        self.content = content
        self.local = Mutex(local)
        self.attribution = attribution
        self.rules = Mutex(rules)
        self.policyOverlay = policyOverlay
        learned = Mutex(nil)
    }

    public func updateLocalNetwork(_ network: LocalNetwork) {
        local.withLock { $0 = network }
        attribution?.updateLocalNetwork(network)
    }

    /// The rules in force (nil: flows stay unrated).
    public var ruleEngine: RuleEngine? {
        get { rules.withLock { $0 } }
        set { rules.withLock { $0 = newValue } }
    }

    /// The learning-mode baseline in force: a flow outside it is an alert too (nil: none).
    public var baseline: Baseline? {
        get { learned.withLock { $0 } }
        set { learned.withLock { $0 = newValue } }
    }

    /// The row of a flow; `ended` flows are forgotten by attribution afterwards.
    public func row(_ record: FlowRecord, ended: Bool) -> FlowRow {
        enrich(record, ended: ended).row
    }

    /// The row of a flow and the rules' decision about it (nil without rules).
    public func enrich(_ record: FlowRecord, ended: Bool) -> (row: FlowRow, decision: Decision?) {
        let (row, decision, _) = enrichWithContent(record, ended: ended)
        return (row, decision)
    }

    /// The row, the decision, and what content inspection found in the flow since it was last asked.
    /// A flow off this machine that carried a prompt's words (or a canary) is an alert of its own:
    /// `content/prompt-leak`, whatever the rules said of its destination.
    public func enrichWithContent(_ record: FlowRecord, ended: Bool) -> (row: FlowRow, decision: Decision?, findings: [ContentInspector.Finding]) {
        var (row, decision) = judge(record, ended: ended)
        guard let content else { return (row, decision, []) }
        if row.scope == .loopback, let p = row.process, let q = row.peerProcess {
            content.noteParties(of: record.key, requester: p.displayName, runtime: q.displayName)
        }
        let found = content.content(of: record.key, ended: ended)
        row.content = FlowRow.Content(visibility: found.visibility, promptMatches: found.promptMatches)
        if found.promptMatches > 0 && row.scope != .loopback {
            row.verdict = .alert
            row.rule = ContentInspector.leakRule
        }
        return (row, decision, found.newFindings)
    }

    private func judge(_ record: FlowRecord, ended: Bool) -> (row: FlowRow, decision: Decision?) {
        let network = local.withLock { $0 }
        var row = FlowRow(record, local: network)
        var identity: ProcessIdentity?
        var peer: ProcessIdentity?
        if let attribution {
            var found = attribution.attribution(of: record, ended: ended)
            // Hashing the executable happens here, off the attribution worker.
            if case .process(let process) = found.attribution {
                found.attribution = .process(attribution.attributor.withExeHash(process))
            }
            found.peer = found.peer.map(attribution.attributor.withExeHash)
            row.apply(found)
            identity = found.attribution.identity
            peer = found.peer
        }
        let engine = ruleEngine, baseline = self.baseline
        guard engine != nil || baseline != nil || policyOverlay != nil else { return (row, nil) }
        if let engine, let peer, row.peerProcess != nil {
            row.peerProcess?.role = engine.role(of: FlowEnricher.facts(peer))?.name
            if row.peerProcess?.role != nil { row.peerProcess?.roleSource = "matcher" }
        }
        let orientation = record.orientation(in: network)
        var facts = FlowFacts(
            process: identity.map(FlowEnricher.facts),
            remoteAddress: orientation.originatorIsLocal ? record.responderAddress : record.originatorAddress,
            remotePort: orientation.originatorIsLocal ? record.responderPort : record.originatorPort,
            ipProtocol: record.ipProtocol, scope: row.scope, hostname: row.hostname)
        facts.peerRole = row.peerProcess?.role
        let key = identity.map { ProcessKey(pid: $0.pid, startTime: $0.startTime) }
        if let key, let related = relations.withLock({ $0[key] }) { facts.process?.relatedRole = related }
        var decision = engine?.evaluate(facts) ?? Decision()
        if let engine, let key, decision.role == nil, callsRuntime(row) {
            // The program asked a model runtime for something: a chat client from now on.
            relations.withLock { table in
                if table.count >= FlowEnricher.relationLimit { table.removeAll(keepingCapacity: true) }
                table[key] = "chatbot-ui"
            }
            facts.process?.relatedRole = "chatbot-ui"
            decision = engine.evaluate(facts)
        }
        if let policyOverlay {
            // The run's policy decides; the role stays the one the rules gave the program.
            let role = decision.role
            decision = policyOverlay.evaluate(facts)
            decision.role = role
        }
        // Learning mode on top of the rules: a (program, destination) pair never seen while learning alerts.
        if let baseline, identity != nil { decision = baseline.check(facts, decision) }
        row.verdict = decision.verdict
        row.rule = decision.rule
        if decision.role != nil {
            row.process?.role = decision.role
            row.process?.roleSource = (decision.roleSource ?? .matcher).rawValue
        }
        return (row, decision)
    }

    /// Whether the flow is its process calling a model runtime over loopback: the other end is a
    /// process with the runtime's role, or listens on a runtime's port.
    private func callsRuntime(_ row: FlowRow) -> Bool {
        guard row.scope == .loopback, row.proto == "tcp" else { return false }
        if row.peerProcess?.role == "model-runtime" { return true }
        return runtimePorts.contains(UInt16(clamping: row.remotePort))
    }

    /// What the rules may match about a process: the one facts builder, for live flows.
    static func facts(_ p: ProcessIdentity) -> ProcessFacts {
        ProcessFacts(
            pid: p.pid, startTime: p.startTime, exe: p.exe, sha256: p.sha256, cmdline: p.cmdline, comm: p.comm,
            user: p.user, uid: p.uid, unit: p.unit, container: p.container, parentExe: p.parentExe,
            parentCmdline: p.parentCmdline, ancestorExes: p.grandparentExe.map { [$0] } ?? [],
            ancestorCmdlines: p.grandparentCmdline.map { [$0] } ?? [],
            program: p.program?.name, programKind: p.program?.kind.rawValue)
    }
}
