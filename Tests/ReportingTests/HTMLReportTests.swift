import Flows
import Foundation
@testable import Reporting
import Testing

@Suite struct HTMLReportTests {
    static let hour: Int64 = 3_600_000_000_000
    static let evil = "<script>fetch('https://x.example/')</script>\"'&\u{1b}[31m"

    static func report() -> HTMLReport {
        let b = TimeBuckets(from: 0, to: 3 * hour - 1, width: hour)!
        let programs = b.series([
            FlowSpan(key: "/usr/bin/alpha", start: 0, end: 3 * hour - 1, bytesOut: 3_000, bytesIn: 0),
            FlowSpan(key: "/opt/" + evil, start: hour, end: hour, bytesOut: 500, bytesIn: 0),
        ])
        var c = Coverage()
        c.bytes = 4000
        c.attributedBytes = 3000
        c.dropped = 12
        var flow = topRow("u1", exe: "/usr/bin/" + evil, host: evil, end: 1, out: 10, verdict: .alert)
        flow.rule = evil
        let alert = AlertRecord(
            time: hour, remoteAddress: "198.18.0.2", remotePort: 443, proto: "tcp", hostname: evil, rule: "r", severity: "high",
            message: evil)
        return HTMLReport(
            from: 0, to: 3 * hour, generated: 3 * hour, buckets: b, programs: programs,
            scopes: [.init(scope: "internet", bytesOut: 3000, bytesIn: 10, destinations: 2), .init(scope: "loopback", bytesOut: 500, bytesIn: 500, destinations: 1)],
            alerts: [alert], coverage: c, flows: [flow], flowCount: 1)
    }

    @Test func thePageFetchesNothingAndRunsNoScript() {
        let html = Self.report().render()
        let lower = html.lowercased()
        #expect(!lower.contains("<script"))
        // A URL from the database may appear as text, never in an attribute a browser would follow.
        for attribute in [" src=", "href=", "action=", "srcset=", "url(", "@import", "<link", "<img", "<iframe", "<object", "<embed", "<use"] {
            #expect(!lower.contains(attribute), "\(attribute)")
        }
        #expect(html.contains("Content-Security-Policy\" content=\"default-src 'none'"))
    }

    @Test func everythingFromTheDatabaseIsEscaped() {
        let html = Self.report().render()
        #expect(html.contains("&lt;script&gt;fetch(&#39;https://x.example/&#39;)&lt;/script&gt;&quot;&#39;&amp;\\x1b[31m"))
        #expect(!html.contains("\u{1b}"))
        #expect(!html.contains("<script>"))
        #expect(HTMLReport.escape("a<b>&\"'") == "a&lt;b&gt;&amp;&quot;&#39;")
    }

    @Test func theChartsCarryTheRightSeries() {
        let html = Self.report().render()
        // One group of bars per program, the biggest first, one bar per non-empty bucket.
        // Two charts: what was sent out, then what was received, each on its own scale.
        let outChart = html.components(separatedBy: "data-chart=\"out\"")[1].components(separatedBy: "</svg>")[0]
        let inChart = html.components(separatedBy: "data-chart=\"in\"")[1].components(separatedBy: "</svg>")[0]
        let alpha = outChart.components(separatedBy: "data-series=\"/usr/bin/alpha\"")
        #expect(alpha.count == 2)
        let bars = alpha[1].components(separatedBy: "</g>")[0].components(separatedBy: "<rect").count - 1
        #expect(bars == 3)
        #expect(!inChart.contains("<rect"), "nothing was received, so nothing is drawn")
        // Scalable, with round ticks no higher than needed: 1,000 B a bucket for alpha, 500 more in one.
        #expect(html.contains("<svg viewBox=\"0 0 960 260\" width=\"100%\""))
        let ticks = outChart.components(separatedBy: "text-anchor=\"end\">").dropFirst().map { $0.components(separatedBy: "<")[0] }
            .filter { $0.hasSuffix("B") }
        #expect(ticks == ["0 B", "1 KiB", "2 KiB"], "\(ticks)")
        #expect(html.contains("data-scope=\"internet\"") && html.contains("data-scope=\"loopback\""))
        #expect(html.components(separatedBy: "<circle").count == 2)
        #expect(html.contains("75.0% of bytes attributed") || html.contains("75% of bytes attributed"))
        #expect(html.contains("<td class=\"n\">12</td>"))
        #expect(html.contains("<td class=\"n\">10 B</td>"), "sizes are for people")
        #expect(html.contains("<tr class=\"alert\">"))
    }

    @Test func ticksAreRoundAndReachThePeak() {
        #expect(HTMLReport.ticks(peak: 1_500) == [0, 1_024, 2_048])
        #expect(HTMLReport.ticks(peak: 900) == [0, 200, 400, 600, 800, 1_000])
        #expect(HTMLReport.ticks(peak: 48_640) == [0, 10_240, 20_480, 30_720, 40_960, 51_200])  // 10 KiB steps to 50 KiB
        let gib = HTMLReport.ticks(peak: 6_800_000_000)
        #expect(gib.last! >= 6_800_000_000 && gib.count <= 6 && gib.allSatisfy { $0 % (1 << 30) == 0 }, "\(gib)")
        #expect(HTMLReport.ticks(peak: 0) == [0, 1])
    }

    @Test func theStandingVerdictsOpenThePage() {
        var r = Self.report()
        r.verdicts = [
            StandingVerdict(grouping: "program", key: "ollama", roles: ["model-runtime"], flows: 40, first: 0, last: 3 * Self.hour,
                            bytesOut: 10, internetFlows: 0, internetBytesOut: 0, reach: .loopbackOnly, lastEgress: nil),
            StandingVerdict(grouping: "program", key: "chat_app.py", roles: [], flows: 4, first: 0, last: 3 * Self.hour, bytesOut: 10,
                            internetFlows: 1, internetBytesOut: 900, reach: .internet,
                            lastEgress: .init(time: Self.hour, destination: "api.gradio.app", rule: "telemetry", verdict: "alert")),
        ]
        let html = r.render()
        let section = html.components(separatedBy: "<h2>Standing verdicts</h2>")[1].components(separatedBy: "</section>")[0]
        #expect(section.contains("data-reach=\"loopback-only\"") && section.contains("ollama [model-runtime]"))
        #expect(section.contains("loopback only since"))
        #expect(section.contains("reached the internet: last at") && section.contains("to api.gradio.app, rule telemetry"))
        #expect(html.range(of: "Standing verdicts")!.lowerBound < html.range(of: "Bytes sent out per program")!.lowerBound)
    }
}
