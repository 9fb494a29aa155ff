import Foundation
import GRDB
import Testing

/// Runs the built `telltale` binary and the small programs the daemon tests need.
enum Harness {
    /// The `telltale` executable built beside the test bundle.
    static var telltale: String {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidate = directory.appendingPathComponent("telltale").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        // Some runners start tests from a helper binary: fall back to the package's debug build.
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        return root.appendingPathComponent(".build/debug/telltale").path
    }

    static var isRoot: Bool { getuid() == 0 }

    static func temporaryDirectory(_ tag: String) throws -> String {
        let path = NSTemporaryDirectory() + "telltale-\(tag)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Runs a command to completion; returns its status and combined output.
    @discardableResult
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Starts a command in the background with its output going to `log`.
    static func start(_ arguments: [String], log: String) throws -> Process {
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
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

    static func log(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }
}
