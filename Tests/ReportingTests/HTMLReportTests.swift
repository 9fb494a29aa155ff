import Foundation
import Reporting
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
        var flow = topRow("u1", exe: "/usr/bin/" + evil, host: evil, end: 1, out: 10, verdict: "alert")
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
        let alpha = html.components(separatedBy: "data-series=\"/usr/bin/alpha\"")
        #expect(alpha.count == 2)
        let bars = alpha[1].components(separatedBy: "</g>")[0].components(separatedBy: "<rect").count - 1
        #expect(bars == 3)
        #expect(html.contains("data-scope=\"internet\"") && html.contains("data-scope=\"loopback\""))
        #expect(html.components(separatedBy: "<circle").count == 2)
        #expect(html.contains("75.0% of bytes attributed") || html.contains("75% of bytes attributed"))
        #expect(html.contains("<td class=\"n\">12</td>"))
        #expect(html.contains("<tr class=\"alert\">"))
    }
}
