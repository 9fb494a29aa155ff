import Foundation
import Testing
import TestSupport

/// The budget lab: a program (a Python script, named by it) allowed 1 MB an hour to the internet uploads 300 kB, then 1.5 MB, to
/// a collector in the stand-in internet; another program with no budget uploads as much. The
/// daemon must raise one `budget/...` alert naming the first program, on the flow that crossed,
/// none for the other, and `verdicts` and `report` must show it.
@Suite(.serialized) struct BudgetLabTests {
    @Test(.enabled(if: DaemonFixtures.isRoot, "needs root: namespaces, capture and process events"))
    func aProgramOverItsUploadBudgetRaisesOneAlertAndOthersNone() throws {
        let host = try TestHost(tag: "bg", subnet: 87)
        defer { host.remove() }
        let dir = try ScratchDirectory.make("budgetlab")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var helpers: [Process] = []
        defer { for p in helpers { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        // The stand-in internet: an HTTP collector that reads every upload.
        let collector = dir + "/collector.py"
        try """
            import http.server
            class H(http.server.BaseHTTPRequestHandler):
                protocol_version = 'HTTP/1.1'
                def do_POST(self):
                    left = int(self.headers.get('Content-Length', 0))
                    while left > 0:
                        chunk = self.rfile.read(min(left, 65536))
                        if not chunk: break
                        left -= len(chunk)
                    self.send_response(204); self.end_headers()
                def log_message(self, *a): pass
            http.server.HTTPServer(('198.18.87.2', 8080), H).serve_forever()
            """.write(toFile: collector, atomically: true, encoding: .utf8)
        helpers.append(try TestProcess.start(["ip", "netns", "exec", host.namespace, "/usr/bin/python3", collector], log: dir + "/collector.log"))
        // Two uploaders: one script under two names, each a program of its own (named by its script).
        let uploader = dir + "/upload.py"
        try """
            import http.client, os, sys, time
            for size in map(int, sys.argv[1:]):
                c = http.client.HTTPConnection('198.18.87.2', 8080, timeout=10)
                c.request('POST', '/upload', b'x' * size, {'Content-Type': 'application/octet-stream'})
                c.getresponse().read(); c.close(); time.sleep(0.5)
            print('pid', os.getpid(), flush=True)
            """.write(toFile: uploader, atomically: true, encoding: .utf8)
        for name in ["backup.py", "photosync.py"] { try FileManager.default.copyItem(atPath: uploader, toPath: dir + "/" + name) }
        let rules = dir + "/rules"
        try FileManager.default.createDirectory(atPath: rules, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        try """
            budgets:
              - {name: backup-uploads, program: backup.py, bytes_out: 1MB, per: 1h, scope: [internet], severity: high}
            """.write(toFile: rules + "/50-budget.yaml", atomically: true, encoding: .utf8)
        chmod(rules + "/50-budget.yaml", 0o644)

        let (config, database) = try DaemonFixtures.labConfiguration(in: dir, """
            rules: \(rules)
            alerts: {log: true, desktop: false}
            """)
        chmod(config, 0o600)
        let log = dir + "/daemon.log"
        let daemon = try DaemonFixtures.startDaemon(config: config, log: log, timeout: 15)
        defer { DaemonFixtures.stop(daemon) }
        usleep(500_000)

        var pids: [String: Int] = [:]
        for name in ["backup.py", "photosync.py"] {
            let run = try TestProcess.runCombined(["/usr/bin/python3", dir + "/" + name, "300000", "1500000"])
            #expect(run.status == 0, "\(name): \(run.output)")
            pids[name] = run.output.split(separator: " ").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        func alerts() -> [[String: Any]] {
            let listed = (try? TestProcess.runCombined([BuiltExecutable.telltale, "alerts", "--db", database, "--format", "ndjson"]).output) ?? ""
            return listed.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
        _ = DaemonFixtures.wait(timeout: 10) { alerts().contains { ($0["rule"] as? String) == "budget/backup-uploads" } }
        usleep(1_000_000)
        daemon.terminate()
        daemon.waitUntilExit()

        let raised = alerts().filter { ($0["rule"] as? String)?.hasPrefix("budget/") == true }
        #expect(raised.count == 1, "\(raised)\n\(TestProcess.contents(log).suffix(2000))")
        if let alert = raised.first {
            #expect(alert["pid"] as? Int == pids["backup.py"], "\(alert)")
            #expect(alert["severity"] as? String == "high", "\(alert)")
            #expect((alert["message"] as? String)?.contains("over its budget of 1 MB per 1h to internet") == true, "\(alert)")
        }
        // The flow that crossed carries the alert: report shows it, verdicts name the rule.
        let verdicts = try TestProcess.runCombined([BuiltExecutable.telltale, "verdicts", "--db", database, "--format", "json"])
        let object = try JSONSerialization.jsonObject(with: Data(verdicts.output.utf8)) as? [String: Any]
        let list = object?["verdicts"] as? [[String: Any]] ?? []
        let backup = list.first { $0["program"] as? String == "backup.py" }
        #expect(backup?["reach"] as? String == "internet", "\(verdicts.output)")
        #expect((backup?["last_internet"] as? [String: Any])?["rule"] as? String == "budget/backup-uploads", "\(verdicts.output)")
        let flows = try TestProcess.runCombined([BuiltExecutable.telltale, "report", "--db", database, "--by", "flow", "--format", "ndjson"]).output
        let rows = flows.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let crossed = rows.filter { $0["rule"] as? String == "budget/backup-uploads" }
        #expect(crossed.count == 1 && crossed.first?["verdict"] as? String == "alert", "\(rows)")
        let photo = rows.filter { (($0["process"] as? [String: Any])?["pid"] as? Int) == pids["photosync.py"] && $0["scope"] as? String == "internet" }
        #expect(!photo.isEmpty && photo.allSatisfy { $0["verdict"] as? String != "alert" }, "\(photo)")
    }
}
