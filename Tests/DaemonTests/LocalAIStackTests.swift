import Foundation
import Testing
import TestSupport

/// The lab plays a local AI stack: a model runtime serving on loopback, a chatbot UI that talks to
/// it over loopback and also posts analytics to `telemetry.example` (a test host the lab's DNS server
/// names), a webhook receiver, and a desktop session (a session bus with a notification server) of
/// an unprivileged user running `telltale notify`. The daemon, given no rules (so the built-in
/// default pack), must raise exactly one alert, naming the UI, the destination and the rule, log it
/// at warning priority or above in journald's form, deliver it to the webhook, and the companion
/// must show it on that user's desktop.
@Suite(.serialized) struct LocalAIStackTests {
    @Test(.enabled(if: DaemonFixtures.isRoot, "needs root: namespaces, capture and process events"))
    func onlyTheUIsAnalyticsPostRaisesAnAlertAndTheWebhookGetsIt() throws {
        let host = try TestHost(tag: "ai", subnet: 81)
        defer { host.remove() }
        let dir = try ScratchDirectory.make("aistack")
        var helpers: [Process] = []
        defer { for p in helpers { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        func python(_ script: String, _ arguments: [String] = [], in namespace: String? = nil, exe: String = "/usr/bin/python3") throws -> Process {
            let path = dir + "/\(UUID().uuidString.prefix(6)).py"
            try script.write(toFile: path, atomically: true, encoding: .utf8)
            let command = (namespace.map { ["ip", "netns", "exec", $0] } ?? []) + [exe, path] + arguments
            let p = try TestProcess.start(command, log: dir + "/helper-\(helpers.count).log")
            helpers.append(p)
            return p
        }
        // The analytics collector on the stand-in internet host.
        _ = try python("""
            import http.server
            class H(http.server.BaseHTTPRequestHandler):
                protocol_version = 'HTTP/1.1'  # keep-alive, as real collectors: the client holds its socket
                def do_POST(self):
                    self.rfile.read(int(self.headers.get('Content-Length', 0))); self.send_response(204); self.end_headers()
                def log_message(self, *a): pass
            http.server.HTTPServer(('198.18.81.2', 8080), H).serve_forever()
            """, in: host.namespace)
        // The machine's resolver stub: answers telemetry.example with the test host's address.
        _ = try python("""
            import socket, struct
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.53', 53))
            while True:
                q, peer = s.recvfrom(512)
                end = q.index(b'\\0', 12) + 5
                a = b'\\xc0\\x0c' + struct.pack('!HHIH', 1, 1, 60, 4) + socket.inet_aton('198.18.81.2')
                s.sendto(q[:2] + b'\\x81\\x80' + q[4:6] + b'\\x00\\x01\\x00\\x00\\x00\\x00' + q[12:end] + a, peer)
            """)
        // The webhook receiver: every POST body on one line of a file.
        let hooks = dir + "/webhook.txt"
        _ = try python("""
            import http.server, sys
            class H(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
                    open(sys.argv[1], 'ab').write(body.replace(b'\\n', b' ') + b'\\n'); self.send_response(200); self.end_headers()
                def log_message(self, *a): pass
            http.server.HTTPServer(('127.0.0.1', 18931), H).serve_forever()
            """, [hooks])
        // The model runtime: a Python interpreter installed as `llama-server`, serving on loopback.
        let runtime = dir + "/llama-server"
        let python3 = try TestProcess.runCombined(["python3", "-c", "import os,sys;print(os.path.realpath(sys.executable))"]).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try FileManager.default.copyItem(atPath: python3, toPath: runtime)
        _ = try python(DaemonFixtures.modelRuntime(port: 18932, reply: #"{"choices":[{"message":{"content":"hi"}}]}"#), exe: runtime)
        usleep(500_000)

        let (config, database) = try DaemonFixtures.labConfiguration(in: dir, """
            log_level: debug
            log_format: journal
            alerts: {log: true, desktop: false, webhook: "http://127.0.0.1:18931/alerts"}
            """)
        let log = dir + "/daemon.log"
        let daemon = try DaemonFixtures.startDaemon(config: config, log: log)
        defer { DaemonFixtures.stop(daemon) }
        #expect(TestProcess.contents(log).contains("<5>no rules directory (no /etc/telltale/rules.d, no --rules): applying the built-in default rules"),
                "\(TestProcess.contents(log))")

        // A desktop session of an unprivileged user (nobody, with the database's group, root here):
        // its session bus, a notification server recording what it is asked to show, and the companion.
        let session = dir + "/session"
        try FileManager.default.createDirectory(atPath: session, withIntermediateDirectories: true)
        chmod(dir, 0o755)
        chmod(session, 0o777)
        let asUser = ["setpriv", "--reuid", "65534", "--regid", "65534", "--groups", "0", "--inh-caps=-all", "--bounding-set=-all"]
        let bus = "unix:path=\(session)/bus"
        let busDaemon = try TestProcess.start(asUser + ["dbus-daemon", "--session", "--address=\(bus)", "--nofork", "--nopidfile"], log: dir + "/bus.log")
        helpers.append(busDaemon)
        #expect(DaemonFixtures.wait(timeout: 5) { FileManager.default.fileExists(atPath: session + "/bus") }, "\(TestProcess.contents(dir + "/bus.log"))")
        let shown = session + "/notifications.jsonl"
        try Self.notificationServer.write(toFile: session + "/server.py", atomically: true, encoding: .utf8)
        let server = try TestProcess.start(["env", "DBUS_SESSION_BUS_ADDRESS=\(bus)"] + asUser + ["/usr/bin/python3", session + "/server.py", shown], log: dir + "/server.log")
        helpers.append(server)
        #expect(DaemonFixtures.wait(timeout: 5) { TestProcess.contents(dir + "/server.log").contains("ready") }, "\(TestProcess.contents(dir + "/server.log"))")
        let companionLog = dir + "/notify.log"
        let companion = try TestProcess.start(
            ["env", "DBUS_SESSION_BUS_ADDRESS=\(bus)", "HOME=\(session)", "XDG_STATE_HOME=\(session)/state"] + asUser
                + [BuiltExecutable.telltale, "notify", "--db", database, "--interval", "200ms", "--print"], log: companionLog)
        helpers.append(companion)
        #expect(DaemonFixtures.wait(timeout: 5) { FileManager.default.fileExists(atPath: session + "/state/telltale/notify.last") },
                "the companion did not start following: \(TestProcess.contents(companionLog))")
        usleep(500_000)

        // The chatbot UI: asks the runtime over loopback, resolves telemetry.example, posts analytics.
        let ui = dir + "/open-webui-lab.py"
        try """
            import http.client, json, socket, struct, time
            c = http.client.HTTPConnection('127.0.0.1', 18932, timeout=5)
            c.request('POST', '/v1/chat/completions', json.dumps({'messages': [{'role': 'user', 'content': 'hi'}]}))
            c.getresponse().read(); time.sleep(0.2); c.close()
            q = struct.pack('!HHHHHH', 0x4242, 0x0100, 1, 0, 0, 0) + b'\\x09telemetry\\x07example\\x00' + struct.pack('!HH', 1, 1)
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(3); u.sendto(q, ('127.0.0.53', 53))
            address = socket.inet_ntoa(u.recvfrom(512)[0][-4:]); time.sleep(0.2)
            t = http.client.HTTPConnection(address, 8080, timeout=5)
            t.request('POST', '/collect', json.dumps({'event': 'chat_opened'}), {'Content-Type': 'application/json', 'Host': 'telemetry.example'})
            t.getresponse().read(); time.sleep(0.3); t.close()
            time.sleep(0.5)
            """.write(toFile: ui, atomically: true, encoding: .utf8)
        let uiRun = try TestProcess.runCombined(["/usr/bin/python3", ui])
        #expect(uiRun.status == 0, "the UI program failed: \(uiRun.output)")

        let alerted = DaemonFixtures.wait(timeout: 15) {
            (try? String(contentsOfFile: hooks, encoding: .utf8))?.contains("telemetry.example") == true
        }
        #expect(alerted, "the webhook got no alert:\n\(TestProcess.contents(log))")
        let onDesktop = DaemonFixtures.wait(timeout: 10) { TestProcess.contents(shown).contains("telemetry.example") }
        #expect(onDesktop, "the desktop was not notified: \(TestProcess.contents(companionLog)) \(TestProcess.contents(dir + "/server.log"))")
        #expect(TestProcess.contents(companionLog).contains("telemetry.example"))
        usleep(1_500_000)
        daemon.terminate()
        daemon.waitUntilExit()

        let listed = try TestProcess.runCombined([BuiltExecutable.telltale, "alerts", "--db", database, "--format", "ndjson"]).output
        let alerts = listed.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(alerts.count == 1, "expected exactly one alert, got:\n\(listed)")
        let alert = try #require(alerts.first)
        #expect(alert["hostname"] as? String == "telemetry.example")
        #expect((alert["rule"] as? String)?.isEmpty == false)
        #expect((alert["exe"] as? String)?.hasSuffix("python3.11") == true || (alert["exe"] as? String)?.contains("python") == true)
        let webhookLines = (try String(contentsOfFile: hooks, encoding: .utf8)).split(separator: "\n")
        #expect(webhookLines.count == 1, "the webhook got \(webhookLines.count) posts")

        // One notification, for that alert; critical urgency for high severities.
        let notifications = TestProcess.contents(shown).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(notifications.count == 1, "\(notifications)")
        if let note = notifications.first {
            #expect(note["app"] as? String == "Telltale")
            #expect((note["body"] as? String)?.contains("telemetry.example") == true)
            let severity = alert["severity"] as? String ?? ""
            #expect(note["urgency"] as? Int == (severity == "high" || severity == "critical" ? 2 : 1))
        }

        // Every line of the daemon's log carries a syslog priority as journald reads it, and the alert
        // stands at warning or above (`journalctl -p warning` would show it).
        let lines = TestProcess.contents(log).split(separator: "\n").filter { !$0.isEmpty }
        #expect(!lines.isEmpty)
        for line in lines {
            #expect(line.range(of: #"^<[0-7]>"#, options: .regularExpression) != nil, "no priority: \(line)")
        }
        let alertLines = lines.filter { $0.contains("alert: [") && $0.contains("telemetry.example") }
        #expect(alertLines.count == 1, "\(alertLines)")
        if let line = alertLines.first, let digit = line.dropFirst().first?.wholeNumberValue {
            #expect(digit <= 4, "\(line)")
            let severity = alert["severity"] as? String ?? ""
            #expect(digit == (severity == "critical" ? 2 : severity == "high" ? 3 : 4), "\(line)")
        }

        // The loopback traffic between the UI and the runtime is allowed, and the runtime has its role.
        let flows = try TestProcess.runCombined([BuiltExecutable.telltale, "report", "--db", database, "--by", "flow", "--format", "ndjson"]).output
            .split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let toRuntime = flows.filter { $0["remote_port"] as? Int == 18932 && $0["proto"] as? String == "tcp" }
        #expect(!toRuntime.isEmpty)
        for flow in toRuntime { #expect(flow["verdict"] as? String == "allowed", "\(flow)") }
        let roles = Set(flows.compactMap { ($0["process"] as? [String: Any])?["role"] as? String })
        #expect(roles.contains("chatbot-ui"), "roles seen: \(roles)")
    }

    /// A desktop notification server (org.freedesktop.Notifications) that writes each notification
    /// it is asked to show as a JSON line to the file named by its argument.
    static let notificationServer = """
        import json, sys
        import dbus, dbus.service, dbus.mainloop.glib
        from gi.repository import GLib
        dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
        IFACE = 'org.freedesktop.Notifications'
        class Server(dbus.service.Object):
            @dbus.service.method(IFACE, in_signature='susssasa{sv}i', out_signature='u')
            def Notify(self, app, replaces, icon, summary, body, actions, hints, timeout):
                with open(sys.argv[1], 'a') as f:
                    f.write(json.dumps({'app': str(app), 'summary': str(summary), 'body': str(body),
                                        'urgency': int(hints.get('urgency', 1))}) + '\\n')
                return 1
            @dbus.service.method(IFACE, out_signature='as')
            def GetCapabilities(self): return ['body']
            @dbus.service.method(IFACE, out_signature='ssss')
            def GetServerInformation(self): return ('lab', 'telltale', '1', '1.2')
        bus = dbus.SessionBus()
        name = dbus.service.BusName(IFACE, bus)
        Server(bus, '/org/freedesktop/Notifications')
        print('ready', flush=True)
        GLib.MainLoop().run()
        """
}
