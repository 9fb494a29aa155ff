import Foundation
import Testing
import TestSupport

/// The content lab: three chat programs each send their own prompt to a model runtime on loopback
/// (OpenAI-compatible and ollama APIs). One forwards part of it to the stand-in internet in plain
/// HTTP, inside other JSON; one sends it whole over Python's TLS (OpenSSL, probed); one sends only
/// unrelated words. The daemon, inspecting content, must raise exactly one `content/prompt-leak`
/// alert per leaking program (by pid), none for the quiet one, say how each flow could be read, and
/// keep no prompt text anywhere on disk.
@Suite(.serialized) struct ContentLabTests {
    static let prompts = [
        "plain": "Draft a polite letter to the harbour master asking whether the blue ketch may stay at berth seven until the spring tides are over and the rigging is repaired",
        "tls": "Summarise my notes on the lighthouse keeper's diary, especially the storm of eighteen ninety two and the missing supply boat from Saint Brennan's island",
        "quiet": "Which herbs grow best on a north facing windowsill in a cold flat with only three hours of sunlight every winter afternoon",
    ]

    @Test(.enabled(if: DaemonFixtures.isRoot, "needs root: namespaces, capture, process events and uprobes"))
    func eachLeakingProgramRaisesOneContentAlertAndTheQuietOneNone() throws {
        let host = try TestHost(tag: "ct", subnet: 84)
        defer { host.remove() }
        let dir = try ScratchDirectory.make("contentlab")
        var helpers: [Process] = []
        defer { for p in helpers { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        func start(_ script: String, named name: String, _ arguments: [String] = [], in namespace: String? = nil) throws -> Process {
            let path = dir + "/" + name
            try script.write(toFile: path, atomically: true, encoding: .utf8)
            let command = (namespace.map { ["ip", "netns", "exec", $0] } ?? []) + ["/usr/bin/python3", path] + arguments
            let p = try TestProcess.start(command, log: dir + "/\(name).log")
            helpers.append(p)
            return p
        }
        // The stand-in internet: a plain HTTP collector and a TLS server (openssl s_server).
        _ = try start("""
            import http.server
            class H(http.server.BaseHTTPRequestHandler):
                protocol_version = 'HTTP/1.1'
                def do_POST(self):
                    self.rfile.read(int(self.headers.get('Content-Length', 0))); self.send_response(204); self.end_headers()
                def log_message(self, *a): pass
            http.server.HTTPServer(('198.18.84.2', 8080), H).serve_forever()
            """, named: "collector.py", in: host.namespace)
        let certificate = try TestProcess.runCombined([
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=lab.test", "-days", "1",
            "-keyout", dir + "/key.pem", "-out", dir + "/cert.pem",
        ])
        #expect(certificate.status == 0, "\(certificate.output)")
        let tlsServer = try TestProcess.start(
            ["ip", "netns", "exec", host.namespace, "openssl", "s_server", "-accept", "198.18.84.2:8443", "-cert", dir + "/cert.pem",
             "-key", dir + "/key.pem", "-quiet", "-naccept", "5"], log: dir + "/s_server.log")
        helpers.append(tlsServer)
        // The model runtime on loopback (both APIs answer).
        _ = try start(
            DaemonFixtures.modelRuntime(port: 18961, reply: #"{"choices":[{"message":{"content":"ok"}}],"message":{"content":"ok"}}"#),
            named: "runtime.py")
        usleep(700_000)

        let (config, database) = try DaemonFixtures.labConfiguration(in: dir, """
            log_level: info
            inspect_content: true
            content: {runtime_ports: [18961]}
            alerts: {log: true, desktop: false}
            """)
        let log = dir + "/daemon.log"
        let daemon = try DaemonFixtures.startDaemon(config: config, log: log, timeout: 15)
        defer { DaemonFixtures.stop(daemon) }
        #expect(TestProcess.contents(log).contains("content inspection on"), "\(TestProcess.contents(log))")

        // The chat programs: each asks the runtime, then does what it does with the prompt.
        let ask = """
            import http.client, json, socket, ssl, sys, time
            kind, prompt = sys.argv[1], open(sys.argv[2]).read()
            c = http.client.HTTPConnection('127.0.0.1', 18961, timeout=5)
            if kind == 'tls':
                c.request('POST', '/api/chat', json.dumps({'model': 'tiny', 'messages': [{'role': 'user', 'content': prompt}]}))
            else:
                c.request('POST', '/v1/chat/completions', json.dumps({'model': 'tiny', 'messages': [{'role': 'user', 'content': prompt}]}))
            c.getresponse().read(); c.close(); time.sleep(0.3)
            if kind == 'plain':
                words = prompt.split()[4:24]
                body = json.dumps({'event': 'chat_sent', 'preview': ' '.join(words).upper(), 'n': 1})
                t = http.client.HTTPConnection('198.18.84.2', 8080, timeout=5)
                t.request('POST', '/collect', body, {'Content-Type': 'application/json'}); t.getresponse().read(); t.close()
            elif kind == 'tls':
                context = ssl.create_default_context(); context.check_hostname = False; context.verify_mode = ssl.CERT_NONE
                with socket.create_connection(('198.18.84.2', 8443), timeout=5) as raw:
                    with context.wrap_socket(raw, server_hostname='lab.test') as s:
                        s.sendall(json.dumps({'input': prompt}).encode()); time.sleep(0.5)
            else:
                body = json.dumps({'event': 'opened', 'theme': 'dark', 'note': 'a quiet program sends only its own words'})
                t = http.client.HTTPConnection('198.18.84.2', 8080, timeout=5)
                t.request('POST', '/collect', body, {'Content-Type': 'application/json'}); t.getresponse().read(); t.close()
            print('pid', __import__('os').getpid(), flush=True)
            time.sleep(0.5)
            """
        var pids: [String: Int] = [:]
        for kind in ["plain", "tls", "quiet"] {
            let path = dir + "/chat-\(kind).py"
            try ask.write(toFile: path, atomically: true, encoding: .utf8)
            // The prompt from a file, as a person types it into a UI: never in a command line the monitor records.
            let promptFile = dir + "/prompt-\(kind).txt"
            try (Self.prompts[kind] ?? "").write(toFile: promptFile, atomically: true, encoding: .utf8)
            let run = try TestProcess.runCombined(["/usr/bin/python3", path, kind, promptFile])
            #expect(run.status == 0, "\(kind): \(run.output)")
            pids[kind] = run.output.split(separator: " ").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }

        func contentAlerts() -> [[String: Any]] {
            let listed = (try? TestProcess.runCombined([BuiltExecutable.telltale, "alerts", "--db", database, "--format", "ndjson"]).output) ?? ""
            return listed.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                .filter { $0["rule"] as? String == "content/prompt-leak" }
        }
        _ = DaemonFixtures.wait(timeout: 20) { contentAlerts().count >= 2 }
        usleep(1_500_000)
        daemon.terminate()
        daemon.waitUntilExit()

        let alerts = contentAlerts()
        let byPid = Dictionary(grouping: alerts) { $0["pid"] as? Int ?? -1 }
        #expect(byPid[pids["plain"] ?? -2]?.count == 1, "plain: \(alerts)")
        #expect(byPid[pids["tls"] ?? -2]?.count == 1, "tls: \(alerts)")
        #expect(byPid[pids["quiet"] ?? -2] == nil, "quiet: \(alerts)")
        #expect(alerts.count == 2, "\(alerts)")
        if let plain = byPid[pids["plain"] ?? -2]?.first {
            let content = plain["content"] as? [String: Any]
            #expect(content?["matched_words"] as? Int == 20, "\(plain)")
            #expect(content?["visibility"] as? String == "wire-plaintext")
            #expect((content?["prompt_process"] as? String)?.contains("chat-plain.py") == true, "\(plain)")
            #expect(plain["severity"] as? String == "critical")
            #expect((plain["message"] as? String)?.contains("20 words of the prompt") == true, "\(plain)")
        }
        if let tls = byPid[pids["tls"] ?? -2]?.first {
            let content = tls["content"] as? [String: Any]
            #expect(content?["visibility"] as? String == "tls-plaintext", "\(tls)")
            #expect((content?["matched_words"] as? Int ?? 0) >= 20, "\(tls)")
            #expect((tls["message"] as? String)?.contains("read from its TLS writes") == true)
        }

        // Each egress flow says how it could be read.
        let flows = try TestProcess.runCombined([BuiltExecutable.telltale, "report", "--db", database, "--by", "flow", "--format", "ndjson"]).output
            .split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        func egress(_ kind: String, port: Int) -> [String: Any]? {
            flows.first { ($0["process"] as? [String: Any])?["pid"] as? Int == pids[kind] && $0["remote_port"] as? Int == port }
        }
        #expect((egress("plain", port: 8080)?["content"] as? [String: Any])?["visibility"] as? String == "wire-plaintext")
        #expect((egress("plain", port: 8080)?["content"] as? [String: Any])?["prompt_matches"] as? Int == 1)
        #expect((egress("tls", port: 8443)?["content"] as? [String: Any])?["visibility"] as? String == "tls-plaintext")
        #expect((egress("quiet", port: 8080)?["content"] as? [String: Any])?["prompt_matches"] as? Int == 0)
        #expect((egress("plain", port: 8080)?["process"] as? [String: Any])?["program"] as? String == "chat-plain.py")

        // No prompt text reached the database, the log or anything else the daemon wrote.
        for file in [database, database + "-wal", log] where !file.isEmpty {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            let text = String(decoding: data, as: UTF8.self).lowercased()
            for (_, prompt) in Self.prompts {
                let probe = prompt.split(separator: " ")[6..<11].joined(separator: " ").lowercased()
                #expect(!text.contains(probe), "\(file) holds prompt text")
            }
        }
    }
}
