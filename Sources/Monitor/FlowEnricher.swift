public import Flows
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

    public init(local: LocalNetwork, attribution: AttributionWorker?, rules: RuleEngine? = nil) {
        self.local = Mutex(local)
        self.attribution = attribution
        self.rules = Mutex(rules)
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
        guard engine != nil || baseline != nil else { return (row, nil) }
        if let engine, let peer, row.peerProcess != nil { row.peerProcess?.role = engine.role(of: FlowEnricher.facts(peer))?.name }
        let orientation = record.orientation(in: network)
        var facts = FlowFacts(
            process: identity.map(FlowEnricher.facts),
            remoteAddress: orientation.originatorIsLocal ? record.responderAddress : record.originatorAddress,
            remotePort: orientation.originatorIsLocal ? record.responderPort : record.originatorPort,
            ipProtocol: record.ipProtocol, scope: row.scope, hostname: row.hostname)
        facts.peerRole = row.peerProcess?.role
        var decision = engine?.evaluate(facts) ?? Decision()
        // Learning mode on top of the rules: a (program, destination) pair never seen while learning alerts.
        if let baseline, identity != nil { decision = baseline.check(facts, decision) }
        row.verdict = decision.verdict.rawValue
        row.rule = decision.rule
        if decision.role != nil { row.process?.role = decision.role }
        return (row, decision)
    }

    /// What the rules may match about a process.
    static func facts(_ p: ProcessIdentity) -> ProcessFacts {
        ProcessFacts(
            pid: p.pid, startTime: p.startTime, exe: p.exe, sha256: p.sha256, cmdline: p.cmdline, comm: p.comm,
            user: p.user, uid: p.uid, unit: p.unit, container: p.container, parentExe: p.parentExe,
            parentCmdline: p.parentCmdline, ancestorExes: p.grandparentExe.map { [$0] } ?? [],
            ancestorCmdlines: p.grandparentCmdline.map { [$0] } ?? [])
    }
}
