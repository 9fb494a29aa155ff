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

    public init(center: AlertCenter) {
        submit = { _ = center.submit($0) }
    }

    /// For tests: alerts go to `submit`.
    init(submit: @escaping (AlertRecord) -> Void) {
        self.submit = submit
    }

    /// Flows judged at their first packet.
    public mutating func started(_ flows: [LivePipeline.Decided]) {
        for flow in flows { raiseOnce(flow) }
    }

    /// Flows written (ended, or open updates); an ended flow is forgotten.
    public mutating func written(_ flows: [LivePipeline.Decided]) {
        for flow in flows {
            raiseOnce(flow)
            if !flow.isOpen { alerted.remove(flow.row.uid) }
        }
        if alerted.count > 200_000 { alerted.removeAll(keepingCapacity: true) }
    }

    private mutating func raiseOnce(_ flow: LivePipeline.Decided) {
        guard let decision = flow.decision, decision.verdict == .alert, alerted.insert(flow.row.uid).inserted else { return }
        let alert = AlertStage.alert(flow.row, decision)
        raised[alert.severity, default: 0] += 1
        submit(alert)
    }

    /// The alert for a flow the rules flagged.
    static func alert(_ row: FlowRow, _ decision: Decision) -> AlertRecord {
        let who = row.process.map { "\($0.comm ?? "?")[\($0.pid)]" } ?? "unattributed (\(row.unattributedReason ?? "unknown"))"
        let destination = row.hostname.map { "\($0) (\(row.remoteAddress):\(row.remotePort))" } ?? "\(row.remoteAddress):\(row.remotePort)"
        return AlertRecord(
            time: row.start, flowUID: row.uid, pid: row.process?.pid, exe: row.process?.exe, process: row.process?.comm,
            role: decision.role, remoteAddress: row.remoteAddress, remotePort: row.remotePort, proto: row.proto,
            hostname: row.hostname, rule: decision.rule ?? "unnamed", severity: (decision.severity ?? .medium).rawValue,
            message: decision.message ?? "\(who) reached \(destination) [\(row.scope.rawValue)]", tags: decision.tags)
    }
}
