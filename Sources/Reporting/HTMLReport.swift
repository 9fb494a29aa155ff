import Flows
import PacketParsing

/// `report --html FILE`: one self-contained page with charts drawn here as inline SVG.
///
/// Nothing in it is fetched: no script, font, style sheet or image, and a Content-Security-Policy
/// that forbids every fetch should a browser find one anyway (an auditor must not make its reader's
/// browser phone out). No JavaScript: tooltips are SVG `<title>`s. Every text from the database
/// (program paths, hostnames, command lines, rule messages) is escaped for HTML.
public struct HTMLReport: Sendable {
    public var title = "Telltale report"
    /// The window, for the heading.
    public var from: Int64
    public var to: Int64
    public var generated: Int64
    public var buckets: TimeBuckets
    /// Bytes per program per bucket, most bytes first.
    public var programs: [BucketSeries]
    /// Bytes out and in per destination scope, and the destinations reached in each.
    public var scopes: [ScopeTotal]
    public var alerts: [AlertRecord]
    public var coverage: Coverage
    /// The newest flows, oldest first.
    public var flows: [FlowRow]
    /// Flows in the window, of which `flows` holds the newest.
    public var flowCount: Int
    /// The standing verdict of each program and role over the window.
    public var verdicts: [StandingVerdict] = []

    /// Bytes of one destination scope.
    public struct ScopeTotal: Sendable, Equatable {
        public var scope: String
        public var bytesOut: Int64
        public var bytesIn: Int64
        public var destinations: Int
        public init(scope: String, bytesOut: Int64, bytesIn: Int64, destinations: Int) {
            self.scope = scope
            self.bytesOut = bytesOut
            self.bytesIn = bytesIn
            self.destinations = destinations
        }
    }

    public init(
        from: Int64, to: Int64, generated: Int64, buckets: TimeBuckets, programs: [BucketSeries], scopes: [ScopeTotal],
        alerts: [AlertRecord], coverage: Coverage, flows: [FlowRow], flowCount: Int
    ) {
        self.from = from
        self.to = to
        self.generated = generated
        self.buckets = buckets
        self.programs = programs
        self.scopes = scopes
        self.alerts = alerts
        self.coverage = coverage
        self.flows = flows
        self.flowCount = flowCount
    }

    /// Series drawn one by one; the rest are summed as "other programs".
    static let shownSeries = 8
    /// Colours of the series, distinguishable and readable on white.
    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"]
    static let scopeColours = [
        "internet": "#d62728", "lan": "#ff7f0e", "link-local": "#bcbd22", "multicast": "#9467bd", "loopback": "#2ca02c",
    ]

    /// Escapes text for HTML content and attribute values (control characters shown, not obeyed).
    public static func escape(_ text: String) -> String {
        Sanitizer.markup(Sanitizer.clean(text))
    }

    /// The page.
    public func render() -> String {
        var h = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
            <meta name="referrer" content="no-referrer">
            <title>\(HTMLReport.escape(title))</title>
            <style>
            body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1200px}
            h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
            table{border-collapse:collapse;font-size:12px}td,th{padding:2px 6px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
            th{background:#f3f3f3}.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.alert{background:#fde2e2}
            .legend span{display:inline-block;margin-right:1em}.sw{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:-.1em}
            svg text{font:11px system-ui,sans-serif;fill:#333}.muted{color:#666}
            </style>
            </head>
            <body>
            <h1>\(HTMLReport.escape(title))</h1>
            <p class="muted">Flows from \(Timestamp.local(from)) to \(Timestamp.local(to)) \
            (\(HTMLReport.escape(Timestamp.localZone(at: from)))) · \(flowCount) flows · generated \(Timestamp.local(generated)) · \
            this page loads nothing from anywhere.</p>

            """
        h += section("Standing verdicts", verdictTable())
        h += section("Coverage and drops", coverageBlock())
        h += section("Bytes sent out per program", programChart())
        h += section("Bytes received per program", receivedChart())
        h += section("Destinations by scope", scopeChart())
        h += section("Alerts on a timeline", alertTimeline())
        h += section("Flows", flowTable())
        h += "</body>\n</html>\n"
        return h
    }

    func section(_ title: String, _ body: String) -> String {
        "<section>\n<h2>\(HTMLReport.escape(title))</h2>\n\(body)</section>\n"
    }

    func coverageBlock() -> String {
        let c = coverage
        let share = c.attributedShare
        let barWidth = 600.0
        var s = "<svg viewBox=\"0 0 \(Int(barWidth) + 2) 24\" width=\"100%\" style=\"max-width:\(Int(barWidth) + 2)px\" role=\"img\" aria-label=\"coverage\">"
        s += "<rect x=\"1\" y=\"1\" width=\"\(Int(barWidth))\" height=\"22\" fill=\"#eee\" stroke=\"#999\"/>"
        s += "<rect x=\"1\" y=\"1\" width=\"\(HTMLReport.number(barWidth * share))\" height=\"22\" fill=\"#2ca02c\"><title>attributed</title></rect>"
        s += "<text x=\"8\" y=\"16\">\(HTMLReport.number(share * 100))% of bytes attributed to a process</text></svg>\n"
        s += "<p>\(HTMLReport.escape(GroupRenderer.coverageLine(c)))</p>\n"
        s += "<table><tr><th>capture drops (kernel)</th><th>by the interface</th><th>queue</th><th>socket events dropped</th><th>packets received</th></tr>"
        s += "<tr><td class=\"n\">\(c.dropped)</td><td class=\"n\">\(c.interfaceDropped)</td><td class=\"n\">\(c.queueDropped)</td>"
        s += "<td class=\"n\">\(c.eventDropped)</td><td class=\"n\">\(c.received)</td></tr></table>\n"
        return s
    }

    /// The series drawn one by one, and the rest summed as "other programs".
    func shownSeries() -> [BucketSeries] {
        var shown = Array(programs.prefix(HTMLReport.shownSeries))
        if programs.count > HTMLReport.shownSeries {
            var other = BucketSeries(
                key: "other programs (\(programs.count - HTMLReport.shownSeries))",
                bytesOut: Array(repeating: 0, count: buckets.count), bytesIn: Array(repeating: 0, count: buckets.count))
            for s in programs.dropFirst(HTMLReport.shownSeries) {
                for i in 0..<buckets.count {
                    other.bytesOut[i] += s.bytesOut[i]
                    other.bytesIn[i] += s.bytesIn[i]
                }
            }
            shown.append(other)
        }
        return shown
    }

    /// Bytes sent out per program, on a chart of their own: a download of gigabytes must not hide
    /// the kilobytes a runtime sent.
    func programChart() -> String {
        guard !programs.isEmpty else { return "<p>No flows in this window.</p>\n" }
        return barChart(shownSeries(), label: "bytes sent out per program", value: \.bytesOut, total: \.totalOut, word: "out")
    }

    /// Bytes received per program, below the chart of what was sent.
    func receivedChart() -> String {
        guard !programs.isEmpty else { return "<p>No flows in this window.</p>\n" }
        return barChart(shownSeries(), label: "bytes received per program", value: \.bytesIn, total: \.totalIn, word: "in")
    }

    /// Ticks at round byte values (1, 2 or 5 of a power of 1,024's unit, times a power of ten), at
    /// most five above zero, the last at or above `peak`.
    static func ticks(peak: Int64) -> [Int64] {
        guard peak > 0 else { return [0, 1] }
        var unit: Int64 = 1
        while peak / unit >= 1024 && unit < Int64(1) << 50 { unit *= 1024 }
        var step = unit
        let multipliers: [Int64] = [1, 2, 5]
        var decade: Int64 = 1
        search: while true {
            for m in multipliers {
                step = m * decade * unit
                if (peak + step - 1) / step <= 5 { break search }
            }
            decade *= 10
        }
        let count = (peak + step - 1) / step
        return (0...count).map { $0 * step }
    }

    /// A tick's size without a needless decimal: `20 KiB`, not `20.0 KiB`.
    static func tickText(_ bytes: Int64) -> String {
        let parts = ByteCount.text(bytes).split(separator: " ")
        guard parts.count == 2, parts[0].hasSuffix(".0") else { return ByteCount.text(bytes) }
        return "\(parts[0].dropLast(2)) \(parts[1])"
    }

    /// Stacked bars of one quantity: one bar per bucket, one colour per program, round ticks, a
    /// scalable `viewBox`, labels inside the drawing, local times.
    func barChart(
        _ shown: [BucketSeries], label: String, value: (BucketSeries) -> [Int64], total: (BucketSeries) -> Int64, word: String
    ) -> String {
        let width = 960.0, height = 260.0, left = 78.0, right = 16.0, bottom = 30.0, top = 12.0
        let plotWidth = width - left - right, plotHeight = height - bottom - top
        var stackTop = Array(repeating: Int64(0), count: buckets.count)
        for s in shown { for (i, v) in value(s).enumerated() { stackTop[i] += v } }
        let ticks = HTMLReport.ticks(peak: stackTop.max() ?? 0)
        let scaleTop = Double(ticks.last ?? 1)
        let slot = plotWidth / Double(buckets.count)
        let barWidth = max(1, slot * 0.85)
        var svg = "<svg viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"100%\" style=\"max-width:\(Int(width))px\" "
            + "role=\"img\" aria-label=\"\(HTMLReport.escape(label))\" data-chart=\"\(word)\">"
        for tick in ticks {
            let y = top + plotHeight * (1 - Double(tick) / scaleTop)
            svg += "<text x=\"\(Int(left - 6))\" y=\"\(HTMLReport.number(y + 4))\" text-anchor=\"end\">"
                + HTMLReport.escape(HTMLReport.tickText(tick)) + "</text>"
            svg += "<line x1=\"\(Int(left))\" y1=\"\(HTMLReport.number(y))\" x2=\"\(Int(width - right))\" y2=\"\(HTMLReport.number(y))\" "
                + "stroke=\"\(tick == 0 ? "#999" : "#eee")\"/>"
        }
        var base = Array(repeating: 0.0, count: buckets.count)
        for (n, s) in shown.enumerated() {
            let colour = HTMLReport.palette[n % HTMLReport.palette.count]
            svg += "<g fill=\"\(colour)\" data-series=\"\(HTMLReport.escape(s.key))\">"
            for (i, v) in value(s).enumerated() where v > 0 {
                let h = plotHeight * Double(v) / scaleTop
                let y = top + plotHeight - base[i] - h
                base[i] += h
                svg += "<rect x=\"\(HTMLReport.number(left + Double(i) * slot))\" y=\"\(HTMLReport.number(y))\" "
                    + "width=\"\(HTMLReport.number(barWidth))\" height=\"\(HTMLReport.number(max(0.5, h)))\">"
                    + "<title>\(HTMLReport.escape(s.key)) \(HTMLReport.escape(HTMLReport.shortTime(buckets.start(i), width: buckets.width))): "
                    + "\(ByteCount.text(v)) \(word)</title></rect>"
            }
            svg += "</g>"
        }
        // Time labels: first, middle and last bucket, anchored so that none runs off the drawing.
        let marks = Set([0, buckets.count / 2, buckets.count - 1]).sorted()
        for i in marks {
            let anchor = i == 0 && marks.count > 1 ? "start" : i == buckets.count - 1 && marks.count > 1 ? "end" : "middle"
            let x = anchor == "start" ? left + Double(i) * slot : anchor == "end" ? left + Double(i) * slot + barWidth : left + Double(i) * slot + barWidth / 2
            svg += "<text x=\"\(HTMLReport.number(x))\" y=\"\(Int(height - 10))\" text-anchor=\"\(anchor)\">"
                + HTMLReport.escape(HTMLReport.shortTime(buckets.start(i), width: buckets.width)) + "</text>"
        }
        svg += "</svg>\n"
        var legend = "<p class=\"legend\">"
        for (n, s) in shown.enumerated() {
            legend += "<span><i class=\"sw\" style=\"background:\(HTMLReport.palette[n % HTMLReport.palette.count])\"></i>"
                + "\(HTMLReport.escape(s.key)): \(HTMLReport.escape(ByteCount.text(total(s)))) \(word)</span>"
        }
        legend += "</p>\n"
        return "<p class=\"muted\">Bytes \(word == "out" ? "sent out" : "received") per \(GroupRenderer.widthText(buckets.width)), "
            + "stacked by program; times in \(HTMLReport.escape(Timestamp.localZone(at: from))).</p>\n" + svg + legend
    }

    /// The standing verdict of each program and role in the window.
    func verdictTable() -> String {
        guard !verdicts.isEmpty else { return "<p>No flows in this window.</p>\n" }
        var t = "<table><tr><th></th><th>program or role</th><th>standing</th></tr>\n"
        for v in verdicts {
            t += "<tr\(v.reach == .internet ? " class=\"alert\"" : "") data-reach=\"\(v.reach.rawValue)\"><td>\(v.grouping)</td>"
                + "<td>\(HTMLReport.escape(v.label))</td><td>\(HTMLReport.escape(v.sentence))</td></tr>\n"
        }
        return t + "</table>\n"
    }

    /// Horizontal bars: bytes out and in per scope.
    func scopeChart() -> String {
        guard !scopes.isEmpty else { return "<p>No destinations in this window.</p>\n" }
        let peak = max(1, scopes.map { $0.bytesOut + $0.bytesIn }.max() ?? 1)
        let rowHeight = 26.0, left = 90.0, barSpace = 600.0
        let height = rowHeight * Double(scopes.count) + 8
        var svg = "<svg viewBox=\"0 0 \(Int(left + barSpace + 260)) \(Int(height))\" width=\"100%\" style=\"max-width:\(Int(left + barSpace + 260))px\" role=\"img\" aria-label=\"destinations by scope\">"
        for (i, s) in scopes.enumerated() {
            let y = 4 + rowHeight * Double(i)
            let colour = HTMLReport.scopeColours[s.scope] ?? "#7f7f7f"
            let outWidth = barSpace * Double(s.bytesOut) / Double(peak)
            let inWidth = barSpace * Double(s.bytesIn) / Double(peak)
            svg += "<text x=\"\(Int(left - 6))\" y=\"\(HTMLReport.number(y + 15))\" text-anchor=\"end\">\(HTMLReport.escape(s.scope))</text>"
            svg += "<rect x=\"\(Int(left))\" y=\"\(HTMLReport.number(y))\" width=\"\(HTMLReport.number(max(0.5, outWidth)))\" height=\"20\" "
                + "fill=\"\(colour)\" data-scope=\"\(HTMLReport.escape(s.scope))\"><title>\(HTMLReport.escape(s.scope)) out: "
                + "\(ByteCount.text(s.bytesOut))</title></rect>"
            svg += "<rect x=\"\(HTMLReport.number(left + outWidth))\" y=\"\(HTMLReport.number(y))\" width=\"\(HTMLReport.number(inWidth))\" "
                + "height=\"20\" fill=\"\(colour)\" fill-opacity=\"0.4\"><title>\(HTMLReport.escape(s.scope)) in: "
                + "\(ByteCount.text(s.bytesIn))</title></rect>"
            svg += "<text x=\"\(HTMLReport.number(left + outWidth + inWidth + 6))\" y=\"\(HTMLReport.number(y + 15))\">"
                + HTMLReport.escape("\(ByteCount.text(s.bytesOut)) out, \(ByteCount.text(s.bytesIn)) in, \(Count.text(s.destinations, "destination"))")
                + "</text>"
        }
        svg += "</svg>\n"
        return "<p class=\"muted\">Solid: bytes out; light: bytes in.</p>\n" + svg
    }

    /// A time axis with one mark per alert, coloured by severity, and the list below it.
    func alertTimeline() -> String {
        guard !alerts.isEmpty else { return "<p>No alerts in this window.</p>\n" }
        let width = 960.0, left = 20.0, right = 20.0, height = 70.0
        let span = Double(max(1, to - from))
        let colours = ["critical": "#7f0000", "high": "#d62728", "medium": "#ff7f0e", "low": "#bcbd22", "info": "#1f77b4"]
        var svg = "<svg viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"100%\" style=\"max-width:\(Int(width))px\" role=\"img\" aria-label=\"alerts on a timeline\">"
        svg += "<line x1=\"\(Int(left))\" y1=\"30\" x2=\"\(Int(width - right))\" y2=\"30\" stroke=\"#999\"/>"
        for a in alerts {
            let x = left + (width - left - right) * min(1, max(0, Double(a.time - from) / span))
            svg += "<circle cx=\"\(HTMLReport.number(x))\" cy=\"30\" r=\"6\" fill=\"\(colours[a.severity] ?? "#d62728")\" "
                + "data-alert=\"\(HTMLReport.escape(a.rule))\"><title>\(HTMLReport.escape(Timestamp.local(a.time))) "
                + "\(HTMLReport.escape(a.severity)): \(HTMLReport.escape(a.message))</title></circle>"
        }
        svg += "<text x=\"\(Int(left))\" y=\"60\">\(HTMLReport.escape(Timestamp.local(from)))</text>"
        svg += "<text x=\"\(Int(width - right))\" y=\"60\" text-anchor=\"end\">\(HTMLReport.escape(Timestamp.local(to)))</text>"
        svg += "</svg>\n"
        var table = "<table><tr><th>time</th><th>severity</th><th>program</th><th>destination</th><th>rule</th><th>message</th></tr>\n"
        for a in alerts.suffix(500) {
            let destination = (a.hostname.map { $0 + " " } ?? "") + "\(a.remoteAddress):\(a.remotePort)/\(a.proto)"
            table += "<tr class=\"alert\"><td>\(HTMLReport.escape(Timestamp.local(a.time)))</td><td>\(HTMLReport.escape(a.severity))</td>"
                + "<td>\(HTMLReport.escape(a.program ?? a.exe ?? a.process ?? "?"))</td><td>\(HTMLReport.escape(destination))</td>"
                + "<td>\(HTMLReport.escape(a.rule))</td><td>\(HTMLReport.escape(a.message))</td></tr>\n"
        }
        table += "</table>\n"
        return svg + table
    }

    func flowTable() -> String {
        guard !flows.isEmpty else { return "<p>No flows in this window.</p>\n" }
        var t = flows.count < flowCount ? "<p class=\"muted\">The newest \(flows.count) of \(flowCount) flows.</p>\n" : ""
        t += "<table><tr><th>start</th><th>proto</th><th>local</th><th>remote</th><th>scope</th><th>host</th>"
            + "<th>out</th><th>in</th><th>program</th><th>role</th><th>verdict</th></tr>\n"
        for r in flows {
            let program = r.process.map { p in "\(p.displayName) [\(p.pid)]" }
                ?? "(unattributed: \(r.unattributedReason ?? "no process"))"
            let rowClass = r.verdict == .alert ? " class=\"alert\"" : ""
            t += "<tr\(rowClass)><td>\(HTMLReport.escape(Timestamp.local(r.start)))</td>"
                + "<td>\(HTMLReport.escape(r.proto))</td>"
                + "<td>\(HTMLReport.escape(FlowRenderer.endpoint(r.localAddress, r.localPort, r.proto)))</td>"
                + "<td>\(HTMLReport.escape(FlowRenderer.endpoint(r.remoteAddress, r.remotePort, r.proto)))</td>"
                + "<td>\(HTMLReport.escape(r.scope.rawValue))</td><td>\(HTMLReport.escape(r.hostname ?? ""))</td>"
                + "<td class=\"n\">\(ByteCount.text(r.bytesOut))</td><td class=\"n\">\(ByteCount.text(r.bytesIn))</td>"
                + "<td>\(HTMLReport.escape(program))</td><td>\(HTMLReport.escape(r.process.map { $0.role ?? FlowRow.noRole } ?? ""))</td>"
                + "<td>\(HTMLReport.escape(r.verdict.rawValue))\(r.rule.map { " (" + HTMLReport.escape($0) + ")" } ?? "")</td></tr>\n"
        }
        return t + "</table>\n"
    }

    /// SVG numbers with at most one decimal.
    static func number(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(r)
    }

    /// `2026-11-29 10:00` for hours and less, `2026-11-29` for days, in local time as the tables.
    static func shortTime(_ t: Int64, width: Int64) -> String {
        let full = Timestamp.local(t)
        let date = String(full.prefix(10))
        if width % 86_400_000_000_000 == 0 { return date }
        return date + " " + String(full.dropFirst(11).prefix(5))
    }
}
