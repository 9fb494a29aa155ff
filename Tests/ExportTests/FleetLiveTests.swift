import Foundation
import Testing
import TestSupport

/// The exports against the engines a fleet runs, from Debian: a live daemon on loopback exports
/// IPFIX to nfcapd and metrics to node-exporter's textfile collector and its own endpoint, both
/// scraped by Prometheus, while `report --follow` tails the database. Run under the shared lock:
/// `flock /tmp/telltale-live.lock swift test --skip-build --filter FleetLiveTests`.
@Suite(.serialized) struct FleetLiveTests {
    static let tools = ["/usr/bin/nfcapd", "/usr/bin/nfdump", "/usr/bin/prometheus", "/usr/bin/prometheus-node-exporter"]

    struct Flow: Equatable {
        var uid: String, seq: Int, localPort: Int, remotePort: Int, bytesOut: Int, bytesIn: Int, exe: String?
    }

    static func flows(_ ndjson: String) throws -> [Flow] {
        try ndjson.split(separator: "\n").map { line in
            let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return Flow(
                uid: o["uid"] as? String ?? "", seq: o["seq"] as? Int ?? -1, localPort: o["local_port"] as? Int ?? 0,
                remotePort: o["remote_port"] as? Int ?? 0, bytesOut: o["bytes_out"] as? Int ?? -1,
                bytesIn: o["bytes_in"] as? Int ?? -1, exe: (o["process"] as? [String: Any])?["exe"] as? String)
        }
    }

    /// A Prometheus instant query through Python's standard library (a curl would be a flow of its own).
    static func query(_ expression: String) throws -> [[String: Any]] {
        let script = """
            import sys, urllib.parse, urllib.request
            url = "http://127.0.0.1:29090/api/v1/query?query=" + urllib.parse.quote(sys.argv[1])
            print(urllib.request.urlopen(url, timeout=5).read().decode())
            """
        let outcome = try TestProcess.run(["python3", "-c", script, expression])
        guard outcome.status == 0,
            let object = try JSONSerialization.jsonObject(with: Data(outcome.output.utf8)) as? [String: Any],
            let data = object["data"] as? [String: Any], let result = data["result"] as? [[String: Any]]
        else { return [] }
        return result
    }

    /// `arguments` run with no signal blocked: the test runner's threads block SIGTERM and SIGINT, and
    /// a spawned program inherits that mask, so it would never see `stop()` (nfcapd writes its file
    /// only when it gets SIGTERM).
    static func unblocked(_ arguments: [String]) -> [String] {
        ["python3", "-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execvp(sys.argv[1], sys.argv[1:])"]
            + arguments
    }

    static func sample(_ result: [[String: Any]]) -> Double? {
        (result.first?["value"] as? [Any])?.last.flatMap { ($0 as? String).flatMap(Double.init) }
    }

    @Test func nfdumpPrometheusAndFollowSeeTheSameFlowsAsTheReport() throws {
        guard getuid() == 0 else {
            print("skipped: live capture needs root")
            return
        }
        if let missing = Self.tools.first(where: { !FileManager.default.isExecutableFile(atPath: $0) }) {
            print("skipped: \(missing) is not installed (scripts/setup.sh installs nfdump, prometheus, prometheus-node-exporter)")
            return
        }
        let telltale = try BuiltExecutable.require("telltale")
        let dir = try ScratchDirectory.make("fleet")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for sub in ["nf", "textfile", "tsdb"] { try FileManager.default.createDirectory(atPath: "\(dir)/\(sub)", withIntermediateDirectories: true) }
        try """
            interfaces: [lo]
            database: \(dir)/t.db
            filter: "tcp port 28091"
            flush_interval: 100ms
            timeouts: {tcp_closed: 100ms, udp_idle: 300ms}
            alerts: {log: false, desktop: false}
            export:
              metrics:
                textfile: \(dir)/textfile/telltale.prom
                listen: 127.0.0.1:29477
                interval: 1s
              ipfix:
                collector: 127.0.0.1:24739
                transport: udp
                template_refresh: 5s
            """.write(toFile: "\(dir)/telltale.yaml", atomically: true, encoding: .utf8)
        try """
            global: {scrape_interval: 1s, evaluation_interval: 1s}
            scrape_configs:
              - job_name: node
                static_configs: [{targets: ["127.0.0.1:29100"]}]
              - job_name: telltale
                static_configs: [{targets: ["127.0.0.1:29477"]}]
            """.write(toFile: "\(dir)/prometheus.yml", atomically: true, encoding: .utf8)

        let nfcapd = try TestProcess.Background(Self.unblocked(["nfcapd", "-w", "\(dir)/nf", "-p", "24739", "-b", "127.0.0.1", "-t", "60"]), directory: dir, name: "nfcapd")
        defer { nfcapd.stop() }
        try #require(nfcapd.waitFor("Bound to", seconds: 10), "nfcapd did not start: \(nfcapd.error)")
        let node = try TestProcess.Background(Self.unblocked([
            "prometheus-node-exporter", "--web.listen-address=127.0.0.1:29100", "--collector.disable-defaults",
            "--collector.textfile", "--collector.textfile.directory=\(dir)/textfile",
        ]), directory: dir, name: "node")
        defer { node.stop() }
        let prometheus = try TestProcess.Background(Self.unblocked([
            "prometheus", "--config.file=\(dir)/prometheus.yml", "--storage.tsdb.path=\(dir)/tsdb",
            "--web.listen-address=127.0.0.1:29090",
        ]), directory: dir, name: "prometheus")
        defer { prometheus.stop() }
        // The interpreter itself, not a wrapper script: stopping the process must stop the server.
        let python = try TestProcess.run(["python3", "-c", "import sys; print(sys.executable)"]).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let server = try TestProcess.Background(Self.unblocked([python, "-m", "http.server", "28091", "--bind", "127.0.0.1", "--directory", dir + "/nf"]), directory: dir, name: "http")
        defer { server.stop() }

        let daemon = try TestProcess.Background([telltale, "daemon", "--config", "\(dir)/telltale.yaml"], directory: dir, name: "daemon")
        defer { daemon.stop() }
        try #require(daemon.waitFor("exporting", seconds: 20), "\(daemon.error)")
        #expect(daemon.error.contains("capturing"))
        let follow = try TestProcess.Background([telltale, "report", "--db", "\(dir)/t.db", "--by", "flow", "--follow", "--after-seq", "0", "--format", "ndjson", "--poll-interval", "100ms"], directory: dir, name: "follow")
        defer { follow.stop() }

        // Traffic: curl to the local web server, after it is up.
        var reached = 0
        for _ in 0..<100 where reached < 5 {
            if (try TestProcess.run(["curl", "-s", "-o", "/dev/null", "http://127.0.0.1:28091/"])).status == 0 { reached += 1 } else { usleep(100_000) }
        }
        try #require(reached == 5)
        let followed = DaemonWait.until(seconds: 20) { ((try? Self.flows(follow.output)) ?? []).filter { $0.exe?.hasSuffix("/curl") == true }.count >= 5 }
        try #require(followed, "follow printed: \(follow.output) \(follow.error)")

        // Prometheus scrapes both the textfile (through node-exporter) and the endpoint, and the
        // bytes it holds for curl equal the report's.
        let report = try Self.flows(try TestProcess.run([telltale, "report", "--db", "\(dir)/t.db", "--by", "flow", "--after-seq", "0", "--format", "ndjson"]).output)
        let curlOut = Double(report.filter { $0.exe?.hasSuffix("/curl") == true }.map(\.bytesOut).reduce(0, +))
        for job in ["node", "telltale"] {
            let expression = "sum(telltale_flow_bytes_total{job=\"\(job)\",program=\"curl\",direction=\"out\"})"
            let scraped = DaemonWait.until(seconds: 30) { (try? Self.sample(Self.query(expression))) == curlOut }
            #expect(scraped, "\(job): \(String(describing: try? Self.query(expression))) != \(curlOut)")
        }
        #expect(Self.sample(try Self.query("telltale_up{job=\"telltale\"}")) == 1)
        #expect(Self.sample(try Self.query("sum(telltale_flows_total{job=\"telltale\",program=\"curl\"})")).map { $0 >= 5 } == true)
        let textfile = TestProcess.contents("\(dir)/textfile/telltale.prom")
        let check = try TestProcess.run(["promtool", "check", "metrics"], input: textfile)
        #expect(check.status == 0, "\(check.output)\(check.error)")

        daemon.stop()
        #expect(!daemon.process.isRunning)
        usleep(600_000)
        follow.stop()
        nfcapd.stop()

        // --follow printed every finished flow once, in finished order; --after resumes exactly.
        let all = try Self.flows(try TestProcess.run([telltale, "report", "--db", "\(dir)/t.db", "--by", "flow", "--after-seq", "0", "--format", "ndjson"]).output)
        let followedFlows = try Self.flows(follow.output)
        #expect(followedFlows.map(\.uid) == all.map(\.uid))
        #expect(Set(all.map(\.uid)).count == all.count)
        #expect(all.map(\.seq) == all.map(\.seq).sorted())
        try #require(all.count >= 5)
        let resumed = try Self.flows(try TestProcess.run([telltale, "report", "--db", "\(dir)/t.db", "--by", "flow", "--after", all[2].uid, "--format", "ndjson"]).output)
        #expect(resumed.map(\.uid) == all.dropFirst(3).map(\.uid))
        let unknown = try TestProcess.run([telltale, "report", "--db", "\(dir)/t.db", "--by", "flow", "--after", "C00000000001", "--format", "ndjson"])
        #expect(unknown.status == 1 && unknown.error.contains("no flow C00000000001"), "\(unknown.status) \(unknown.error)")

        // nfdump read the IPFIX export: each flow is two one-way records with the report's bytes.
        let files = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/nf").filter { $0.hasPrefix("nfcapd.2") }
        let listing = (try? FileManager.default.contentsOfDirectory(atPath: "\(dir)/nf")) ?? []
        try #require(!files.isEmpty, "nfcapd wrote no file: \(listing) \(nfcapd.output) \(nfcapd.error) \(daemon.error)")
        var records: [String: Int] = [:]
        for file in files {
            let dump = try TestProcess.run(["nfdump", "-q", "-N", "-r", "\(dir)/nf/\(file)", "-o", "fmt:%sa %sp %da %dp %pr %byt"])
            #expect(dump.status == 0, "\(dump.error)")
            for line in dump.output.split(separator: "\n") {
                let f = line.split(separator: " ", omittingEmptySubsequences: true)
                guard f.count == 6, let bytes = Int(f[5]) else { continue }
                records["\(f[1])>\(f[3])", default: 0] += bytes
            }
        }
        for flow in all {
            #expect(records["\(flow.localPort)>\(flow.remotePort)"] == flow.bytesOut, "out of \(flow.uid): \(records) \(daemon.error)")
            #expect(records["\(flow.remotePort)>\(flow.localPort)"] == (flow.bytesIn > 0 ? flow.bytesIn : nil), "in of \(flow.uid)")
        }
    }
}

enum DaemonWait {
    /// Waits until `condition` holds or `seconds` pass.
    static func until(seconds: Double, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if condition() { return true }
            usleep(200_000)
        }
        return condition()
    }
}
