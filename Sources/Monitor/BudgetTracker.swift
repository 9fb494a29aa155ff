import Flows
import PacketParsing
public import Policy
import Reporting

/// Upload budgets at run time: each flow's bytes out, as its updates arrive, counted against the
/// budgets it falls under, per program and per window. The flow that crosses a budget becomes an
/// alert (rule `budget/NAME`), once per program and window, and stays one in its later updates, so
/// `top`, `report` and `verdicts` show it where they show every alert.
///
/// Memory: the open flows' last byte counts and one window per budget and program.
public struct BudgetTracker {
    public private(set) var budgets: [Budget]
    /// Bytes out already counted, per open flow.
    private var counted: [String: Int64] = [:]
    private struct Key: Hashable {
        var budget: String
        var program: String
    }
    private struct Window {
        var start: Int64
        var bytes: Int64
        var alerted: Bool
    }
    private var windows: [Key: Window] = [:]
    /// Flows that crossed a budget: their decision in every later update.
    private var crossed: [String: Decision] = [:]

    public init(budgets: [Budget]) {
        self.budgets = budgets
    }

    /// Budgets of reloaded rules; windows of budgets that remain go on.
    public mutating func replace(_ new: [Budget]) {
        budgets = new
        let ids = Set(new.map(\.id))
        windows = windows.filter { ids.contains($0.key.budget) }
    }

    /// Counts the flows' new bytes; a flow that crosses a budget gets the budget's alert as its
    /// decision (its row's verdict and rule too). Returns whether any did.
    public mutating func account(_ flows: inout [LivePipeline.Decided]) {
        guard !budgets.isEmpty else { return }
        for index in flows.indices {
            let row = flows[index].row
            let uid = row.uid
            let delta = row.bytesOut - counted[uid, default: 0]
            if flows[index].isOpen { counted[uid] = row.bytesOut } else { counted[uid] = nil }
            if delta > 0 {
                let program = row.process?.displayName ?? "(unattributed)"
                let role = flows[index].decision?.role ?? row.process?.role
                for budget in budgets
                where budget.counts(role: role, program: row.process?.program ?? row.process?.displayName, exe: row.process?.exe, scope: row.scope) {
                    let start = TimeBuckets.floor(row.end, budget.period)
                    let key = Key(budget: budget.id, program: program)
                    var window = windows[key] ?? Window(start: start, bytes: 0, alerted: false)
                    if window.start != start { window = Window(start: start, bytes: 0, alerted: false) }
                    window.bytes = window.bytes.addingSaturating(delta)
                    if window.bytes > budget.bytesOut && !window.alerted {
                        window.alerted = true
                        if flows[index].decision?.verdict != .alert {
                            crossed[uid] = BudgetTracker.decision(budget, program: program, role: role, sent: window.bytes, from: start)
                        }
                    }
                    windows[key] = window
                }
            }
            if let decision = crossed[uid] {
                flows[index].decision = decision
                flows[index].row.verdict = decision.verdict
                flows[index].row.rule = decision.rule
                if !flows[index].isOpen { crossed[uid] = nil }
            }
        }
        if counted.count > 2_000_000 { counted.removeAll() }  // flows that never ended (a dropped hand-off)
    }

    static func decision(_ budget: Budget, program: String, role: String?, sent: Int64, from start: Int64) -> Decision {
        Decision(
            role: role, verdict: .alert, rule: budget.id, severity: budget.severity, tags: ["budget"],
            message: "\(program) sent \(ByteCount.text(sent)) to \(budget.scopes.map(\.rawValue).sorted().joined(separator: ", ")) "
                + "since \(Timestamp.local(start)), over its budget of \(budget.summary)")
    }
}
