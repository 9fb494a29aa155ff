import Foundation
import Logging
import Reporting
import Testing
@testable import Alerting
import FlowStore

/// A real HTTP receiver on 127.0.0.1 (Python's http.server): answers 500 to the first `failFirst`
/// POSTs, then 204, and appends every body it accepted to a file.
final class Receiver {
    let process = Process()
    let port: Int
    let bodies: String

    init(failFirst: Int) throws {
        bodies = NSTemporaryDirectory() + "tt-webhook-\(UUID().uuidString).ndjson"
        let script = """
            import http.server, sys
            fails = [\(failFirst)]
            class H(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    body = self.rfile.read(int(self.headers['Content-Length']))
                    if fails[0] > 0:
                        fails[0] -= 1
                        self.send_response(500); self.end_headers(); return
                    with open(sys.argv[1], 'ab') as f: f.write(body + b'\\n')
                    self.send_response(204); self.end_headers()
                def log_message(self, *a): pass
            s = http.server.HTTPServer(('127.0.0.1', 0), H)
            print(s.server_address[1], flush=True)
            s.serve_forever()
            """
        let pipe = Pipe()
        // The system interpreter itself, not a wrapper script (a shell shim would outlive a SIGTERM's target).
        process.executableURL = URL(fileURLWithPath: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "/usr/bin/env")
        process.arguments = (process.executableURL?.path == "/usr/bin/env" ? ["python3"] : []) + ["-c", script, bodies]
        process.standardOutput = pipe
        try process.run()
        let line = String(decoding: pipe.fileHandleForReading.availableData, as: UTF8.self)
        port = Int(line.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    var received: [String] {
        ((try? String(contentsOfFile: bodies, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: bodies)
    }
}

@Suite struct WebhookTests {
    @Test func anAlertIsPostedToARealReceiverRetryingAfterAFailure() throws {
        let receiver = try Receiver(failFirst: 1)
        defer { receiver.stop() }
        try #require(receiver.port > 0, "the python receiver did not start")
        let hook = try WebhookSink(url: "http://127.0.0.1:\(receiver.port)/alerts", timeout: 5, retries: 2)
        let center = AlertCenter(sinks: [hook], store: nil, logger: Logger(label: "test"))
        #expect(center.submit(sampleAlert(time: 42)) == .queued)
        center.stop()
        let bodies = receiver.received
        #expect(bodies.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data((bodies.first ?? "").utf8)) as? [String: Any])
        #expect(object["exe"] as? String == "/usr/bin/node")
        #expect(object["hostname"] as? String == "telemetry.example")
        #expect(object["rule"] as? String == "r")
        #expect(center.counters.failedDeliveries == 0)
    }

    @Test func aReceiverThatKeepsFailingIsNotDeliveryAfterTheRetries() throws {
        let receiver = try Receiver(failFirst: 10)
        defer { receiver.stop() }
        try #require(receiver.port > 0, "the python receiver did not start")
        let hook = try WebhookSink(url: "http://127.0.0.1:\(receiver.port)/", timeout: 5, retries: 1)
        #expect(!hook.deliver(sampleAlert(time: 1), json: "{}"))
        #expect(receiver.received.isEmpty)
    }

    @Test func nothingListeningIsNotDelivery() throws {
        // Nothing listens on the discard port of loopback here: the connection is refused.
        let hook = try WebhookSink(url: "http://127.0.0.1:9/", timeout: 1, retries: 0)
        #expect(!hook.deliver(sampleAlert(time: 1), json: "{}"))
    }
}
