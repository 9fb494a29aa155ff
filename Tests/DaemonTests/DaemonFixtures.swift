import Foundation
import GRDB
import Testing
import TestSupport

/// What the daemon tests set up beside the daemon: load, configurations and database checks.
enum DaemonFixtures {
    static var isRoot: Bool { getuid() == 0 }

    /// A Python program sending one UDP datagram from a new socket (a new flow) every `gap` seconds,
    /// for `seconds`, to `host`.
    static func udpFlood(host: String, seconds: Double, gap: Double = 0.002) throws -> Process {
        let script = """
            import os, socket, time
            end = time.time() + \(seconds)
            parent = os.getppid()
            i = 0
            # Stops with its deadline, or as soon as the test that started it is gone.
            while time.time() < end and os.getppid() == parent:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.sendto(b'x' * (20 + i % 200), ('\(host)', 20000 + i % 2000))
                s.close()
                i += 1
                time.sleep(\(gap))
            """
        return try TestProcess.start(["python3", "-c", script], log: nil)
    }

    /// Writes a daemon configuration that ends and commits flows quickly.
    static func fastConfiguration(in directory: String, interfaces: [String], database: String) throws -> String {
        let path = directory + "/telltale.yaml"
        let text = """
            interfaces: [\(interfaces.joined(separator: ", "))]
            database: \(database)
            flush_interval: 100ms
            timeouts:
              udp_idle: 300ms
              tcp_closed: 100ms
              icmp_idle: 300ms
            log_level: info
            """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Writes `directory`/telltale.yaml for a lab: every interface, the database
    /// `directory`/flows.db, flows committed and ended quickly, then `settings` (YAML lines).
    static func labConfiguration(in directory: String, _ settings: String) throws -> (path: String, database: String) {
        let path = directory + "/telltale.yaml"
        let database = directory + "/flows.db"
        let text = """
            interfaces: [any]
            database: \(database)
            flush_interval: 100ms
            timeouts: {tcp_closed: 200ms, udp_idle: 1s}

            """ + settings
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return (path, database)
    }

    /// A Python program standing in for a model runtime on 127.0.0.1:`port`: it reads every POST
    /// and answers it with `reply`, a JSON body.
    static func modelRuntime(port: Int, reply: String) -> String {
        """
        import http.server
        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'
            def do_POST(self):
                self.rfile.read(int(self.headers.get('Content-Length', 0)))
                b = b'\(reply)'
                self.send_response(200); self.send_header('Content-Length', str(len(b))); self.end_headers(); self.wfile.write(b)
            def log_message(self, *a): pass
        http.server.HTTPServer(('127.0.0.1', \(port)), H).serve_forever()
        """
    }

    /// Starts `telltale daemon --config config` with its log in `log`, and expects it to say it is
    /// capturing within `timeout` seconds; the caller stops it with `stop(_:)`.
    static func startDaemon(
        config: String, log: String, timeout: Double = 10, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Process {
        let daemon = try TestProcess.start([BuiltExecutable.telltale, "daemon", "--config", config], log: log)
        #expect(wait(timeout: timeout) { TestProcess.contents(log).contains("capturing") }, "\(TestProcess.contents(log))",
                sourceLocation: sourceLocation)
        return daemon
    }

    /// Stops `daemon` if it still runs, and waits for it to end.
    static func stop(_ daemon: Process) {
        if daemon.isRunning { daemon.terminate(); daemon.waitUntilExit() }
    }

    /// Waits until `condition` holds or `timeout` seconds pass.
    static func wait(timeout: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if try condition() { return true }
            usleep(100_000)
        }
        return try condition()
    }

    static func flowUIDs(_ database: String) throws -> Set<String> {
        let queue = try DatabaseQueue(path: database)
        defer { try? queue.close() }
        return try queue.read { db in Set(try String.fetchAll(db, sql: "SELECT uid FROM flows")) }
    }

    static func integrity(_ database: String) throws -> String {
        let queue = try DatabaseQueue(path: database)
        defer { try? queue.close() }
        return try queue.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ") }
    }

    /// Bytes out by remote port of every stored flow.
    static func flows(_ database: String) throws -> [(remotePort: Int, bytesOut: Int64)] {
        let queue = try DatabaseQueue(path: database)
        defer { try? queue.close() }
        return try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT remote_port, bytes_out FROM flows").map { ($0["remote_port"], $0["bytes_out"]) }
        }
    }
}
