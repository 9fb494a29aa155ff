import Flows
public import Alerting
public import FlowStore
import PacketParsing
public import Policy
public import Reporting

/// The daemon's alert stage: a flow that breaks the rules raises one alert, at its first packet
/// when it can be judged then, or when it is written with what was learned since (a name from SNI or
/// Host). Never blocks: the alert center queues and delivers on its own thread.
public struct AlertStage {
    /// Flows that have raised their alert already (an open flow is judged again at each update).
    private var alerted = Set<String>()
    private let submit: (AlertRecord) -> Void
    /// Alerts raised since the start, by severity (the metrics' `telltale_alerts_total`).
    public private(set) var raised: [String: Int64] = [:]
    /// Upload budgets: a flow that crosses one becomes its alert before it is judged here.
    public var budgets = BudgetTracker(budgets: [])

    public init(center: AlertCenter) {
        submit = { _ = center.submit($0) }
    }

    /// For tests: alerts go to `submit`.
    init(submit: @escaping (AlertRecord) -> Void) {
        self.submit = submit
    }

    /// Flows whose alert waits for the flow's first update or its end: their first packets may still
    /// name the destination better than the DNS answer seen before them (a TLS or QUIC server name, an
    /// HTTP Host), and an alert names what its flow names.
    private var waiting: [String: LivePipeline.Decided] = [:]

    /// Flows judged at their first packet: alerted now when nothing more can name the destination,
    /// else at the flow's first checkpoint (a few seconds) or end, judged again with what it learned.
    public mutating func started(_ flows: [LivePipeline.Decided]) {
        for flow in flows {
            if AlertStage.mayLearnAName(flow.row), waiting.count < 100_000 {
                if flow.decision?.verdict == .alert { waiting[flow.row.uid] = flow }
            } else {
                raiseOnce(flow)
            }
        }
    }

    /// A flow whose first packets may carry a name of their own: TCP (TLS ClientHello, HTTP Host)
    /// and UDP to a QUIC port, unless it already has a name from them.
    static func mayLearnAName(_ row: FlowRow) -> Bool {
        if let source = row.nameSource, source != "dns", source != "dns-global" { return false }
        return row.proto == "tcp" || (row.proto == "udp" && (row.remotePort == 443 || row.remotePort == 8443))
    }

    /// Flows written (ended, or open updates); an ended flow is forgotten. A flow that crossed an
    /// upload budget carries the budget's alert from here on (`flows` is changed: it is what the
    /// store writes).
    public mutating func written(_ flows: inout [LivePipeline.Decided]) {
        budgets.account(&flows)
        for flow in flows {
            waiting[flow.row.uid] = nil
            raiseOnce(flow)
            if !flow.isOpen { alerted.remove(flow.row.uid) }
        }
        if alerted.count > 200_000 { alerted.removeAll(keepingCapacity: true) }
    }

    private mutating func raiseOnce(_ flow: LivePipeline.Decided) {
        for finding in flow.findings where flow.row.scope != .loopback {
            let alert = AlertStage.contentAlert(flow.row, finding)
            raised[alert.severity, default: 0] += 1
            submit(alert)
        }
        guard let decision = flow.decision, decision.verdict == .alert, alerted.insert(flow.row.uid).inserted else { return }
        let alert = AlertStage.alert(flow.row, decision)
        raised[alert.severity, default: 0] += 1
        submit(alert)
    }

    /// The alert for a flow the rules flagged.
    static func alert(_ row: FlowRow, _ decision: Decision) -> AlertRecord {
        let who = row.process.map { "\($0.displayName)[\($0.pid)]" } ?? "unattributed (\(row.unattributedReason ?? "unknown"))"
        var alert = AlertRecord(
            time: row.start, flowUID: row.uid, pid: row.process?.pid, exe: row.process?.exe, process: row.process?.comm,
            role: decision.role, remoteAddress: row.remoteAddress, remotePort: row.remotePort, proto: row.proto,
            hostname: row.hostname, rule: decision.rule ?? "unnamed", severity: (decision.severity ?? .medium).rawValue,
            message: decision.message ?? "\(who) reached \(AlertStage.destination(row)) [\(row.scope.rawValue)]", tags: decision.tags)
        alert.program = row.process?.displayName
        alert.nameSource = row.nameSource
        return alert
    }

    /// The alert for words of a prompt (or a canary) in a flow leaving this machine: one per flow and
    /// prompt. It says who sent the prompt to which runtime and when, never the words.
    static func contentAlert(_ row: FlowRow, _ finding: ContentInspector.Finding) -> AlertRecord {
        let who = row.process?.displayName ?? finding.promptProcess ?? "an unattributed program"
        let destination = row.hostname ?? (row.remoteAddress.contains(":") ? "[\(row.remoteAddress)]" : row.remoteAddress)
        let source = finding.visibility == "tls-plaintext" ? "read from its TLS writes" : "read from the wire"
        let message: String
        if let canary = finding.canary {
            message = "\(who) sent the canary \"\(canary)\" to \(destination):\(row.remotePort), \(source)"
        } else {
            let seen = finding.promptSeen.map { Timestamp.local($0) } ?? "?"
            let sender = finding.promptProcess.map { $0 == who ? "it gave" : "\($0) gave" } ?? "given to"
            message = "\(who) sent \(finding.matchedWords) words of the prompt \(sender) \(finding.runtime ?? "a model runtime") at \(seen) to \(destination):\(row.remotePort), \(source)"
        }
        var alert = AlertRecord(
            time: finding.time, flowUID: row.uid, pid: row.process?.pid, exe: row.process?.exe, process: row.process?.comm,
            role: row.process?.role, remoteAddress: row.remoteAddress, remotePort: row.remotePort, proto: row.proto,
            hostname: row.hostname, rule: ContentInspector.leakRule, severity: Severity.critical.rawValue, message: message,
            tags: [finding.canary == nil ? "prompt-leak" : "canary"])
        alert.program = row.process?.displayName
        alert.nameSource = row.nameSource
        alert.content = AlertRecord.ContentEvidence(
            matchedWords: finding.matchedWords, promptSeen: finding.promptSeen.map { Timestamp.rfc3339($0) },
            promptProcess: finding.promptProcess, runtime: finding.runtime, visibility: finding.visibility, canary: finding.canary)
        return alert
    }

    /// The destination as the flow names it: a DNS query as what it is, else the name with its source
    /// (SNI, QUIC, Host take precedence over an earlier DNS answer in the flow itself) and the address.
    static func destination(_ row: FlowRow) -> String {
        let address = row.remoteAddress.contains(":") ? "[\(row.remoteAddress)]:\(row.remotePort)" : "\(row.remoteAddress):\(row.remotePort)"
        if row.remotePort == 53, row.proto == "udp" || row.proto == "tcp" {
            return row.hostname.map { "DNS query for \($0) to \(address)" } ?? "DNS to \(address)"
        }
        guard let name = row.hostname else { return address }
        return "\(name) (\(address)\(row.nameSource.map { ", name from \($0)" } ?? ""))"
    }
}
