import FlowStore
import Reporting
import TestSupport
import Foundation
import Testing

/// `telltale alerts --format csv` as a spreadsheet will open it.
@Suite struct AlertsCSVTests {
    @Test func aFormulaInAnAlertFieldIsDefusedAndControlCharactersAreShown() throws {
        let dir = try ScratchDirectory.make("alerts-csv")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try FlowStore(path: dir + "/t.db")
        let now = Int64(Date().timeIntervalSince1970) * 1_000_000_000
        _ = try store.insertAlert(AlertRecord(
            time: now, flowUID: "C1", pid: 7, exe: "=HYPERLINK(\"http://x\",\"y\")", process: "node", role: "@SUM(A1)",
            remoteAddress: "198.18.0.7", remotePort: 443, proto: "tcp", hostname: "-1+2", rule: "\tr",
            severity: "high", message: "line\u{1b}[2Kforged", tags: []))
        let result = try TestProcess.runCombined([BuiltExecutable.telltale, "alerts", "--db", dir + "/t.db", "--since", "1h", "--format", "csv"])
        #expect(result.status == 0, "\(result.output)")
        let lines = result.output.split(separator: "\n")
        let row = try #require(lines.last.map(String.init))
        for formula in ["=HYPERLINK", "@SUM", "-1+2"] {
            #expect(!row.split(separator: ",").contains { $0.hasPrefix(formula) || $0.hasPrefix("\"" + formula) }, "\(formula) reached a cell: \(row)")
        }
        #expect(row.contains("'=HYPERLINK") && row.contains("'@SUM(A1)") && row.contains("'-1+2"), "\(row)")
        #expect(!row.unicodeScalars.contains { $0.value == 0x1b || $0.value == 0x09 }, "\(row.debugDescription)")
    }
}
