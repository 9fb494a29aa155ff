import Foundation
import Logging
import Reporting
import Synchronization
import Testing
@testable import Alerting
import FlowStore

/// A sink that remembers what it was given, optionally waiting for a gate before each delivery.
final class RecordingSink: AlertSink {
    let name = "recording"
    let received = Mutex<[String]>([])
    let gate: DispatchSemaphore?
    init(gate: DispatchSemaphore? = nil) { self.gate = gate }
    func deliver(_ alert: AlertRecord, json: String) -> Bool {
        gate?.wait()
        received.withLock { $0.append(alert.rule + "@" + (alert.hostname ?? alert.remoteAddress)) }
        return true
    }
}

func sampleAlert(time: Int64, exe: String = "/usr/bin/node", host: String = "telemetry.example", rule: String = "r") -> AlertRecord {
    AlertRecord(time: time, flowUID: "C\(time)", pid: 7, exe: exe, process: "node ui.js", role: "chatbot-ui", remoteAddress: "198.18.0.7",
                remotePort: 443, proto: "tcp", hostname: host, rule: rule, severity: "high", message: "posted analytics", tags: ["telemetry"])
}

func waitIdle(_ center: AlertCenter) {
    for _ in 0..<2_000 where !center.isIdle { usleep(5_000) }
}

let second: Int64 = 1_000_000_000

@Suite struct AlertCenterTests {
    @Test func repeatsOfOneProgramDestinationAndRuleWithinTheWindowAreDeduplicated() {
        let sink = RecordingSink()
        var settings = AlertCenter.Settings()
        settings.deduplicationWindow = 60 * second
        let center = AlertCenter(sinks: [sink], settings: settings, store: nil, logger: Logger(label: "test"))
        defer { center.stop() }
        #expect(center.submit(sampleAlert(time: 0)) == .queued)
        #expect(center.submit(sampleAlert(time: 10 * second)) == .duplicate)
        #expect(center.submit(sampleAlert(time: 10 * second, rule: "other")) == .queued)
        #expect(center.submit(sampleAlert(time: 10 * second, host: "elsewhere.example")) == .queued)
        #expect(center.submit(sampleAlert(time: 10 * second, exe: "/usr/bin/python3")) == .queued)
        #expect(center.submit(sampleAlert(time: 61 * second)) == .queued)
        waitIdle(center)
        #expect(sink.received.withLock { $0.count } == 5)
        #expect(center.counters.duplicates == 1)
    }

    @Test func beyondTheRateLimitAlertsAreStoredButNotDelivered() throws {
        let dir = NSTemporaryDirectory() + "tt-alerts-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try FlowStore(path: dir + "/a.db")
        let sink = RecordingSink()
        var settings = AlertCenter.Settings()
        settings.rateLimit = 3
        settings.rateInterval = 60 * second
        let center = AlertCenter(sinks: [sink], settings: settings, store: store, logger: Logger(label: "test"))
        let outcomes = (0..<5).map { center.submit(sampleAlert(time: Int64($0) * second, rule: "r\($0)")) }
        #expect(outcomes == [.queued, .queued, .queued, .rateLimited, .rateLimited])
        #expect(center.submit(sampleAlert(time: 70 * second, rule: "later")) == .queued)
        center.stop()
        #expect(sink.received.withLock { $0 } == ["r0@telemetry.example", "r1@telemetry.example", "r2@telemetry.example", "later@telemetry.example"])
        let stored = try store.alerts(in: TimeWindow())
        #expect(stored.map(\.rule) == ["r0", "r1", "r2", "r3", "r4", "later"])
        #expect(stored.map(\.delivered) == [["recording"], ["recording"], ["recording"], ["rate-limited"], ["rate-limited"], ["recording"]])
    }

    @Test func aFullQueueDropsAndCountsWithoutBlockingTheCaller() {
        let gate = DispatchSemaphore(value: 0)
        let sink = RecordingSink(gate: gate)
        var settings = AlertCenter.Settings()
        settings.queueCapacity = 2
        settings.rateLimit = 1_000
        let center = AlertCenter(sinks: [sink], settings: settings, store: nil, logger: Logger(label: "test"))
        var outcomes: [AlertCenter.Outcome] = []
        for i in 0..<10 { outcomes.append(center.submit(sampleAlert(time: Int64(i), rule: "r\(i)"))) }
        #expect(outcomes.filter { $0 == .dropped }.count >= 6)
        #expect(center.counters.dropped == Int64(outcomes.filter { $0 == .dropped }.count))
        for _ in 0..<10 { gate.signal() }
        center.stop()
        #expect(sink.received.withLock { $0.count } == outcomes.filter { $0 == .queued }.count)
    }

    @Test func theCommandHookGetsTheAlertJSONOnStandardInput() throws {
        let out = NSTemporaryDirectory() + "tt-hook-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let sink = CommandSink(arguments: ["/bin/sh", "-c", "cat > \(out)"], timeout: 10)
        #expect(sink.deliver(sampleAlert(time: 5), json: sampleAlert(time: 5).json))
        let text = try String(contentsOfFile: out, encoding: .utf8)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["rule"] as? String == "r")
        #expect(object["hostname"] as? String == "telemetry.example")
        #expect(object["flow_uid"] as? String == "C5")
        #expect(object["timestamp"] as? String == "1970-01-01T00:00:00.000000005Z" || (object["timestamp"] as? String)?.hasPrefix("1970-01-01T00:00:00") == true)
    }

    @Test func aCommandHookThatFailsOrHangsIsNotDelivery() {
        #expect(!CommandSink(arguments: ["/bin/sh", "-c", "exit 3"]).deliver(sampleAlert(time: 1), json: "{}"))
        #expect(!CommandSink(arguments: ["/bin/sh", "-c", "sleep 30"], timeout: 0.3).deliver(sampleAlert(time: 1), json: "{}"))
        #expect(!CommandSink(arguments: ["/nonexistent/hook"]).deliver(sampleAlert(time: 1), json: "{}"))
    }

    @Test func theDesktopSinkSkipsQuietlyWithoutSessions() {
        let sink = DesktopSink(runtimeRoot: NSTemporaryDirectory() + "tt-no-sessions-\(UUID().uuidString)")
        #expect(sink.sessions().isEmpty)
        #expect(!sink.deliver(sampleAlert(time: 1), json: "{}"))
    }

    /// Notification servers read the body as markup: a name from the wire must show as text,
    /// never as a link or an image.
    @Test func aDesktopNotificationShowsMarkupFromTheWireAsText() throws {
        let alert = sampleAlert(time: 1, host: "<a href=\"http://x.example\">update</a>&<img src=x>")
        let arguments = DesktopSink.notifySendArguments(alert)
        let body = try #require(arguments.last)
        #expect(!body.contains("<") && !body.contains(">"), "\(body)")
        #expect(body.contains("&lt;a href=&quot;http://x.example&quot;&gt;update&lt;/a&gt;&amp;&lt;img src=x&gt;"), "\(body)")
        #expect(Sanitizer.markup("plain text, 5 KiB") == "plain text, 5 KiB")
    }

    @Test func webhookURLsAreParsedOrRefused() throws {
        let hook = try WebhookSink(url: "http://127.0.0.1:8099/hooks/telltale")
        #expect(hook.host == "127.0.0.1")
        #expect(hook.port == 8099)
        #expect(hook.target == "/hooks/telltale")
        #expect(try WebhookSink(url: "http://[::1]:9000").host == "::1")
        #expect(throws: WebhookSink.URLProblem.self) { try WebhookSink(url: "https://example.org/") }
        #expect(throws: WebhookSink.URLProblem.self) { try WebhookSink(url: "http://host:notaport/") }
    }
}
