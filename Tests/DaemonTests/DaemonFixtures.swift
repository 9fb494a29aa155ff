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
