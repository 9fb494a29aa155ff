import FlowStore
import Flows
import Foundation
import PacketParsing
import Reporting
import Testing
import TestSupport

/// `report --html` opened in headless Chromium, inside a network namespace of its own whose only
/// way out is a proxy that records every request: the page must make none, and must draw.
@Suite struct HTMLReportBrowserTests {
    static let unavailableReason: String? = {
        guard getuid() == 0 else { return "needs root (a network namespace for the browser)" }
        for tool in ["chromium", "unshare", "ip"] {
            guard let found = try? TestProcess.run(["sh", "-c", "command -v \(tool)"]), found.status == 0 else {
                return "\(tool) is not installed (scripts/setup.sh installs chromium)"
            }
        }
        guard BuiltExecutable.path("telltale") != nil else { return "the telltale executable is not built next to the tests" }
        return nil
    }()

    /// Hosts Chromium asks by itself whatever the page (its clock and component updates).
    static let browserOwnHosts = ["google.com", "googleapis.com", "gvt1.com", "gstatic.com"]

    static func row(_ uid: String, exe: String?, start: Int64, end: Int64, out: Int64, remote: String, scope: AddressScope,
        host: String? = nil, verdict: Verdict = .allowed) -> FlowRow
    {
        var r = FlowRow(
            uid: uid, start: start, end: end, proto: "tcp", ipProtocol: 6, ipVersion: 4, localAddress: "10.0.0.1",
            localPort: 40_000, remoteAddress: remote, remotePort: 443, direction: .outbound, scope: scope, bytesOut: out,
            bytesIn: out / 10, packetsOut: 10, packetsIn: 10, connState: "SF", history: "ShADadFf", communityID: "1:x")
        if let exe {
            var p = FlowRow.Process(pid: 1000 + Int(uid.hashValue & 0xfff))
            p.exe = exe
            p.startTime = 1
            r.process = p
        } else {
            r.unattributedReason = "no-socket"
        }
        r.hostname = host
        r.verdict = verdict
        if verdict == .alert { r.rule = "model-runtime/loopback-only" }
        return r
    }

    /// Runs Chromium on `page` in an empty network namespace with a recording proxy; returns the
    /// request lines the proxy saw.
    static func browse(_ page: String, screenshot: String, directory: String, height: Int = 2400) throws -> [String] {
        let recorder = """
            import socket, sys, threading
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(('127.0.0.1', 18080)); s.listen(50)
            log = open(sys.argv[1], 'a', buffering=1)
            def serve(c):
                c.settimeout(2)
                try: data = c.recv(4096)
                except Exception: data = b''
                log.write(data.split(b'\\r\\n')[0].decode('latin1') + '\\n'); c.close()
            while True:
                c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
            """
        try recorder.write(toFile: directory + "/recorder.py", atomically: true, encoding: .utf8)
        let log = directory + "/requests-\(URL(fileURLWithPath: page).lastPathComponent).log"
        let script = """
            ip link set lo up
            python3 \(directory)/recorder.py \(log) & recorder=$!
            for i in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1', 18080))" 2>/dev/null && break; sleep 0.1; done
            timeout 90 chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
              --disable-component-update --disable-sync --disable-default-apps --user-data-dir=\(directory)/profile \
              --proxy-server=http://127.0.0.1:18080 --proxy-bypass-list='<-loopback>' --window-size=1200,\(height) \
              --screenshot=\(screenshot) file://\(page)
            status=$?
            sleep 0.5
            kill $recorder
            exit $status
            """
        let outcome = try TestProcess.run(["unshare", "-n", "sh", "-c", script])
        #expect(outcome.status == 0, "chromium: \(outcome.error)")
        return TestProcess.contents(log).split(separator: "\n").map(String.init).filter { line in
            let own = browserOwnHosts.contains { line.contains("." + $0 + "/") || line.contains("." + $0 + ":") || line.contains("//" + $0) }
            return !line.isEmpty && !own
        }
    }

    @Test(.enabled(if: unavailableReason == nil, "\(unavailableReason ?? "")"))
    func theReportDrawsItsChartsInChromiumWithoutARequest() throws {
        let dir = try ScratchDirectory.make("html-browser")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A database with a known story: over 6 hours, alpha sends steadily, beta only in hour 3,
        // a model runtime reaches the internet once (an alert), and a little goes unattributed.
        let hour: Int64 = 3_600_000_000_000
        let origin = (SystemClockForTests.now / hour - 7) * hour
        let store = try FlowStore(path: dir + "/flows.db")
        var rows: [FlowRow] = []
        for h in 0..<6 {
            rows.append(Self.row("A\(h)", exe: "/usr/bin/alpha", start: origin + Int64(h) * hour, end: origin + Int64(h) * hour + hour / 2,
                out: 4_000_000, remote: "127.0.0.1", scope: .loopback))
        }
        rows.append(Self.row("B1", exe: "/usr/bin/beta", start: origin + 3 * hour + 60_000_000_000, end: origin + 3 * hour + 120_000_000_000,
            out: 9_000_000, remote: "192.168.1.20", scope: .lan, host: "nas.lan"))
        rows.append(Self.row("E1", exe: "/usr/bin/llama-server", start: origin + 4 * hour, end: origin + 4 * hour + 1_000_000_000,
            out: 1_500_000, remote: "198.18.0.7", scope: .internet, host: "<script>alert(1)</script>.example", verdict: .alert))
        rows.append(Self.row("U1", exe: nil, start: origin + 2 * hour, end: origin + 2 * hour + 1, out: 200_000, remote: "198.18.0.8", scope: .internet))
        try FlowWriter(store: store).write(rows.map { FlowWriter.Entry(row: $0) })
        try store.insertAlert(AlertRecord(
            time: origin + 4 * hour, flowUID: "E1", exe: "/usr/bin/llama-server", remoteAddress: "198.18.0.7", remotePort: 443,
            proto: "tcp", hostname: "<script>alert(1)</script>.example", rule: "model-runtime/loopback-only", severity: "high",
            message: "model runtime reached the internet"))

        let page = dir + "/report.html"
        let outcome = try TestProcess.run([
            BuiltExecutable.telltale, "report", "--db", dir + "/flows.db", "--html", page, "--every", "1h",
            "--from", Timestamp.rfc3339(origin), "--to", Timestamp.rfc3339(origin + 6 * hour - 1),
        ])
        #expect(outcome.status == 0, "\(outcome.error)")
        let html = TestProcess.contents(page)
        // The file itself: nothing a browser would fetch, everything from the database escaped.
        let lower = html.lowercased()
        for needle in [" src=", "href=", "url(", "@import", "<script", "<link", "<iframe", "<object", "<embed", "srcset="] {
            #expect(!lower.contains(needle), "\(needle) in the report")
        }
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;.example"))
        // The right series: alpha in all six hours, beta in one, the alert once on the timeline.
        // Bytes sent out on a chart of their own (a big download cannot hide them), then what came in.
        let outChart = html.components(separatedBy: "data-chart=\"out\"")[1].components(separatedBy: "</svg>")[0]
        #expect(outChart.components(separatedBy: "data-series=\"/usr/bin/alpha\"").count == 2)
        #expect(html.contains("data-chart=\"in\""))
        let alphaBars = outChart.components(separatedBy: "data-series=\"/usr/bin/alpha\"")[1].components(separatedBy: "</g>")[0]
        #expect(alphaBars.components(separatedBy: "<rect").count - 1 == 6)
        let betaBars = outChart.components(separatedBy: "data-series=\"/usr/bin/beta\"")[1].components(separatedBy: "</g>")[0]
        #expect(betaBars.components(separatedBy: "<rect").count - 1 == 1)
        #expect(html.components(separatedBy: "<circle").count - 1 == 1)
        for scope in ["loopback", "lan", "internet"] { #expect(html.contains("data-scope=\"\(scope)\"")) }

        // The browser: the page draws, and the proxy (the namespace's only way out) sees nothing from it.
        let shot = dir + "/report.png"
        let requests = try Self.browse(page, screenshot: shot, directory: dir)
        #expect(requests.isEmpty, "requests made while the report loaded: \(requests)")
        let size = (try? FileManager.default.attributesOfItem(atPath: shot)[.size] as? Int) ?? 0
        #expect(size > 20_000, "a screenshot with charts in it (\(size) bytes)")
        if let keep = ProcessInfo.processInfo.environment["TELLTALE_KEEP_SCREENSHOT"] {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(atPath: shot, toPath: keep)
            try FileManager.default.copyItem(atPath: page, toPath: keep + ".html")
        }

        // The control: the same browser and proxy do see a page that fetches (so silence means something).
        let control = dir + "/control.html"
        try "<html><body><img src=\"http://198.18.99.1/probe.png\"></body></html>".write(toFile: control, atomically: true, encoding: .utf8)
        let seen = try Self.browse(control, screenshot: dir + "/control.png", directory: dir, height: 300)
        #expect(seen.contains { $0.contains("198.18.99.1/probe.png") }, "the recording proxy saw: \(seen)")
    }
}

/// Wall-clock nanoseconds for fixtures.
enum SystemClockForTests {
    static var now: Int64 { Int64(Date().timeIntervalSince1970 * 1e9) }
}
