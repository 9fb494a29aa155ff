import Flows
import PacketParsing
import Policy
import Reporting
import Testing

@testable import Monitor

/// Upload budgets: declared in rules, counted per program and window as flows report their bytes,
/// one alert per window on the flow that crosses.
@Suite struct BudgetTests {
    static let rules = """
        roles:
          - name: model-runtime
            match: [{name: llama-server}]
            allow: [{scope: loopback}]
            budget: {bytes_out: 1MB, per: 1h, scope: [internet, lan]}
        budgets:
          - {name: webui-uploads, program: open-webui, bytes_out: 50MB, per: 1d, severity: high}
        """

    static func flow(_ uid: String, program: String, role: String?, out: Int64, end: Int64, open: Bool) -> LivePipeline.Decided {
        var r = row(uid, start: end - 1_000_000_000)
        r.end = end
        r.proto = "tcp"
        r.bytesOut = out
        var p = FlowRow.Process(pid: 42)
        p.program = program
        p.exe = "/usr/bin/" + program
        p.role = role
        r.process = p
        var decision = Decision(role: role, verdict: .allowed, rule: "x")
        decision.role = role
        return LivePipeline.Decided(row: r, decision: decision, isOpen: open)
    }

    @Test func budgetsAreReadFromRolesAndTheBudgetsList() throws {
        let set = try RuleSet.parse(Self.rules)
        let budgets = set.allBudgets
        #expect(budgets.map(\.id) == ["budget/model-runtime", "budget/webui-uploads"])
        #expect(budgets[0].bytesOut == 1_000_000 && budgets[0].period == 3_600_000_000_000 && budgets[0].severity == .medium)
        #expect(budgets[0].scopes == [.internet, .lan])
        #expect(budgets[1].severity == .high && budgets[1].scopes == [.internet] && budgets[1].role == nil)
        #expect(budgets[0].summary == "1 MB per 1h to internet, lan")
    }

    @Test(arguments: [
        ("budgets:\n  - {program: x, per: 1h}\n", "needs bytes_out"),
        ("budgets:\n  - {program: x, bytes_out: 5MB}\n", "needs per"),
        ("budgets:\n  - {bytes_out: 5MB, per: 1h}\n", "needs role, program or exe"),
        ("budgets:\n  - {program: x, bytes_out: 5MB, per: 1s}\n", "per: '1s' is outside 1m to 31d"),
        ("budgets:\n  - {program: x, bytes_out: lots, per: 1h}\n", "bytes_out: 'lots' is not a size"),
        ("budgets:\n  - {program: x, bytes_out: 5MB, per: 1h, scope: [moon]}\n", "'moon' is not one of"),
        ("budgets:\n  - {program: x, bytes_out: 5MB, per: 1h, limit: 3}\n", "unknown key 'limit' in a budget"),
    ])
    func aBrokenBudgetNamesItsLine(_ text: String, _ message: String) {
        do {
            _ = try RuleSet.parse(text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.problems.contains { $0.line == 2 && $0.message.contains(message) }, "\(error.problems)")
        }
    }

    /// A runtime that sends 400 kB, then 700 kB more to the internet in one hour crosses its 1 MB:
    /// the crossing flow becomes the alert, once, and stays one in its later updates; the next hour
    /// starts afresh. Loopback bytes never count.
    @Test func theFlowThatCrossesABudgetBecomesItsAlertOncePerWindow() throws {
        let set = try RuleSet.parse(Self.rules)
        var tracker = BudgetTracker(budgets: set.allBudgets)
        let hour: Int64 = 3_600_000_000_000
        let base = 1_000 * hour
        var batch = [Self.flow("A", program: "llama-server", role: "model-runtime", out: 400_000, end: base + 10, open: true)]
        tracker.account(&batch)
        #expect(batch[0].decision?.verdict == .allowed)
        batch = [Self.flow("A", program: "llama-server", role: "model-runtime", out: 1_100_000, end: base + 20, open: true)]
        tracker.account(&batch)
        #expect(batch[0].decision?.verdict == .alert && batch[0].decision?.rule == "budget/model-runtime")
        #expect(batch[0].row.verdict == .alert && batch[0].row.rule == "budget/model-runtime")
        #expect(batch[0].decision?.message?.contains("llama-server sent 1.0 MiB to internet, lan since") == true, "\(batch[0].decision?.message ?? "")")
        // Its later updates keep the alert; another flow in the same hour raises none.
        batch = [Self.flow("A", program: "llama-server", role: "model-runtime", out: 1_200_000, end: base + 30, open: false),
                 Self.flow("B", program: "llama-server", role: "model-runtime", out: 5_000_000, end: base + 40, open: false)]
        tracker.account(&batch)
        #expect(batch[0].decision?.rule == "budget/model-runtime")
        #expect(batch[1].decision?.verdict == .allowed)
        // The next hour: a new window.
        batch = [Self.flow("C", program: "llama-server", role: "model-runtime", out: 2_000_000, end: base + hour + 5, open: false)]
        tracker.account(&batch)
        #expect(batch[0].decision?.rule == "budget/model-runtime")
        // Loopback does not count.
        var local = Self.flow("D", program: "llama-server", role: "model-runtime", out: 50_000_000, end: base + 2 * hour + 5, open: false)
        local.row.scope = .loopback
        batch = [local]
        tracker.account(&batch)
        #expect(batch[0].decision?.verdict == .allowed)
        // A program budget by name, and another program untouched.
        batch = [Self.flow("E", program: "open-webui", role: "chatbot-ui", out: 60_000_000, end: base + 10, open: false),
                 Self.flow("F", program: "curl", role: nil, out: 60_000_000, end: base + 10, open: false)]
        tracker.account(&batch)
        #expect(batch[0].decision?.rule == "budget/webui-uploads" && batch[0].decision?.severity == .high)
        #expect(batch[1].decision?.verdict == .allowed)
    }
}
