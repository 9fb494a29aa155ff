import Export
import Posix
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PacketParsing
import Reporting
import Testing
import TestSupport

@Suite struct MetricsTests {
    static func row(_ uid: String, exe: String?, role: String? = nil, out: Int64, in bytesIn: Int64, scope: String = "internet") -> FlowRow {
        var r = IPFIXEncoderTests.row(uid, exe: exe)
        r.bytesOut = out
        r.bytesIn = bytesIn
        r.packetsOut = out / 100
        r.packetsIn = bytesIn / 100
        r.process?.role = role
        r.scope = AddressScope(rawValue: scope) ?? .internet
        return r
    }

    static func value(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    @Test func checkpointsAddOnlyWhatIsNewAndAFlowCountsOnceWhenItEnds() {
        var m = Metrics()
        m.record([(Self.row("C1", exe: "/usr/bin/ollama", role: "model-runtime", out: 1_000, in: 50), true)])
        m.record([(Self.row("C1", exe: "/usr/bin/ollama", role: "model-runtime", out: 3_000, in: 80), true)])
        m.record([(Self.row("C1", exe: "/usr/bin/ollama", role: "model-runtime", out: 3_500, in: 90), false)])
        m.record([(Self.row("C2", exe: nil, out: 10, in: 0), false)])
        let text = m.render(health: DaemonHealth(), exportDropped: 0, ipfix: nil, now: 1_000_000_000)
        let labels = "program=\"ollama\",role=\"model-runtime\",scope=\"internet\""
        #expect(Self.value(text, "telltale_flow_bytes_total{\(labels),direction=\"out\"}") == 3_500)
        #expect(Self.value(text, "telltale_flow_bytes_total{\(labels),direction=\"in\"}") == 90)
        #expect(Self.value(text, "telltale_flows_total{\(labels)}") == 1)
        #expect(Self.value(text, "telltale_flows_total{program=\"unattributed\",role=\"unattributed\",scope=\"internet\"}") == 1)
        #expect(Self.value(text, "telltale_attributed_bytes_ratio").map { abs($0 - 3_590.0 / 3_600.0) < 1e-6 } == true)
        // The standing verdict, live: ollama reached the internet, and when.
        #expect(Self.value(text, "telltale_program_reach{program=\"ollama\",reach=\"internet\"}") == 1)
        #expect(Self.value(text, "telltale_program_last_internet_timestamp_seconds{program=\"ollama\"}") != nil)
        var local = Metrics()
        var loopback = Self.row("L1", exe: "/usr/bin/ollama", role: "model-runtime", out: 10, in: 10, scope: "loopback")
        loopback.end = 5_000_000_000
        local.record([(loopback, false)])
        let localText = local.render(health: DaemonHealth(), exportDropped: 0, ipfix: nil, now: 1_000_000_000)
        #expect(Self.value(localText, "telltale_program_reach{program=\"ollama\",reach=\"loopback-only\"}") == 1)
        #expect(!localText.contains("telltale_program_last_internet_timestamp_seconds{"))
    }

    @Test func programsPastTheLimitAreSummedAsOther() {
        var m = Metrics(programLimit: 3)
        for i in 0..<10 { m.record([(Self.row("C\(i)", exe: "/usr/bin/p\(i)", out: 100, in: 0), false)]) }
        let text = m.render(health: DaemonHealth(), exportDropped: 0, ipfix: nil, now: 0)
        let programs = Set(text.split(separator: "\n").filter { $0.hasPrefix("telltale_flows_total{") }.compactMap { line in
            line.split(separator: "\"").dropFirst().first.map(String.init)
        })
        #expect(programs == ["p0", "p1", "p2", "other"])
        #expect(Self.value(text, "telltale_flows_total{program=\"other\",role=\"other\",scope=\"internet\"}") == 7)
        #expect(Self.value(text, "telltale_program_label_overflow_flows_total") == 7)
    }

    @Test func labelValuesAreEscaped() {
        var m = Metrics()
        m.record([(Self.row("C1", exe: "/tmp/a\"b\\c\nd\u{1b}e", out: 1, in: 1), false)])
        let text = m.render(health: DaemonHealth(), exportDropped: 0, ipfix: nil, now: 0)
        // The program label is the program's name (here the executable's file name).
        #expect(text.contains("program=\"a\\\"b\\\\c\\nde\""))
    }

    /// Prometheus' own checker accepts the exposition (promtool, Debian package prometheus).
    @Test func promtoolAcceptsTheExposition() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool") else {
            print("skipped: promtool is not installed (scripts/setup.sh installs prometheus)")
            return
        }
        var m = Metrics()
        m.record([(Self.row("C1", exe: "/usr/bin/ollama", role: "model-runtime", out: 1_000, in: 50), false)])
        m.record([(Self.row("C2", exe: "/usr/bin/curl", out: 10, in: 5, scope: "loopback"), false)])
        var health = DaemonHealth()
        health.alertsBySeverity = ["high": 2]
        health.storeState = "disk full"
        let text = m.render(health: health, exportDropped: 3, ipfix: (sent: 5, dropped: 1), now: 1_796_447_060_000_000_000)
        let outcome = try TestProcess.run(["/usr/bin/promtool", "check", "metrics"], input: text)
        #expect(outcome.status == 0, "\(outcome.output)\(outcome.error)")
        #expect(Self.value(text, "telltale_alerts_total{severity=\"high\"}") == 2)
        #expect(Self.value(text, "telltale_store_healthy{state=\"disk full\"}") == 0)
        #expect(Self.value(text, "telltale_export_dropped_total{exporter=\"ipfix\"}") == 1)
    }

    @Test func theTextfileIsReplacedWholeAndTheSocketServesTheLatestText() throws {
        let directory = try ScratchDirectory.make("metrics")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = try MetricsTextfile(path: directory + "/telltale.prom")
        try file.write("a 1\n")
        try file.write("b 2\n")
        #expect(TestProcess.contents(directory + "/telltale.prom") == "b 2\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["telltale.prom"])
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/telltale.prom")
        #expect((attributes[.posixPermissions] as? Int) == 0o644)

        let server = try MetricsServer(address: .unix(path: directory + "/metrics.sock"))
        try server.start()
        defer { server.stop() }
        server.update("telltale_up 1\n")
        let scrape = try TestProcess.run(["curl", "-sS", "--unix-socket", directory + "/metrics.sock", "http://localhost/metrics"])
        #expect(scrape.status == 0 && scrape.output == "telltale_up 1\n", "\(scrape.error)")
        let missing = try TestProcess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", directory + "/metrics.sock", "http://localhost/other"])
        #expect(missing.output == "404")
        #expect(server.requestsServed == 1)
    }

    /// A local client that trickles its request a byte at a time, and a hundred that connect and say
    /// nothing, cannot keep a scrape waiting: each exchange has its deadline, and a full house gives
    /// way to the newcomer.
    @Test func aTricklingClientAndIdleConnectionsDoNotHoldAScrape() throws {
        let port = UInt16(19_000 + Int(getpid() % 500))
        var limits = MetricsServer.Limits()
        limits.exchangeDeadline = 1_000_000_000
        let server = try MetricsServer(address: .inet(host: "127.0.0.1", port: port), limits: limits)
        try server.start()
        defer { server.stop() }
        server.update("telltale_up 1\n")
        func connect() -> Int32 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let ok = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            #expect(ok == 0)
            return fd
        }
        let idle = (0..<100).map { _ in connect() }
        defer { idle.forEach { close($0) } }
        let trickler = connect()
        defer { close(trickler) }
        let trickling = Thread {
            for byte in "GET /metrics HTTP/1.1\r\n".utf8 {
                var b = byte
                if send(trickler, &b, 1, Int32(MSG_NOSIGNAL)) <= 0 { return }
                usleep(300_000)
            }
        }
        trickling.start()
        usleep(200_000)
        let started = Date()
        let scrape = try TestProcess.run(["curl", "-sS", "--max-time", "10", "http://127.0.0.1:\(port)/metrics"])
        #expect(scrape.status == 0 && scrape.output == "telltale_up 1\n", "\(scrape.error)")
        #expect(Date().timeIntervalSince(started) < 3, "the scrape waited \(Date().timeIntervalSince(started)) s")
        // The trickler is cut off at its deadline: its socket reads the end.
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(trickler, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 64)
        let cutStarted = Date()
        let got = recv(trickler, &buffer, buffer.count, 0)
        #expect(got <= 0, "the trickler was answered: \(String(decoding: buffer.prefix(max(0, got)), as: UTF8.self))")
        #expect(Date().timeIntervalSince(cutStarted) < 4)
    }
}
