import Foundation
import Reporting
import Testing
@testable import FlowStore

@Suite struct AlertStoreTests {
    @Test func alertsAreStoredAndListedByWindowWithTheirDeliveredSinks() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try FlowStore(path: dir + "/a.db")
        func alert(_ time: Int64, _ rule: String) -> AlertRecord {
            AlertRecord(time: time, flowUID: "C\(time)", pid: 42, exe: "/usr/bin/node", process: "node ui.js", role: "chatbot-ui",
                        remoteAddress: "198.18.0.7", remotePort: 443, proto: "tcp", hostname: "telemetry.example", rule: rule,
                        severity: "high", message: "m", tags: ["telemetry"])
        }
        let first = try store.insertAlert(alert(1_000, "a"))
        try store.insertAlert(alert(2_000, "b"))
        try store.insertAlert(alert(3_000, "c"))
        try store.setAlertDelivered(id: first, sinks: ["log", "webhook"])
        let all = try store.alerts(in: TimeWindow())
        #expect(all.map(\.rule) == ["a", "b", "c"])
        #expect(all.first?.delivered == ["log", "webhook"])
        #expect(all.first?.tags == ["telemetry"])
        #expect(all.first?.destination == "telemetry.example:443")
        #expect(try store.alerts(in: TimeWindow(from: 1_500)).map(\.rule) == ["b", "c"])
        #expect(try store.alerts(in: TimeWindow(), limit: 1).map(\.rule) == ["c"])
    }
}
