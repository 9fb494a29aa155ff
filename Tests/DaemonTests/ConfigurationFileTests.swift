import Foundation
import Testing

/// The daemon's configuration file, checked before the daemon starts.
@Suite struct ConfigurationFileTests {
    static func daemon(config text: String) throws -> (status: Int32, output: String) {
        let directory = try Harness.temporaryDirectory("config")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/telltale.yaml"
        try text.write(toFile: file, atomically: false, encoding: .utf8)
        chmod(file, 0o600)
        return try Harness.run(["timeout", "20", Harness.telltale, "daemon", "--config", file, "--db", directory + "/t.db"])
    }

    @Test(arguments: [
        ("flush_interval: 9999999h\n", "flush_interval", "106751d"),
        ("retention:\n  max_age: 106752d\n", "retention.max_age", "106751d"),
        ("retention:\n  max_size: infGiB\n", "retention.max_size", "not a finite size"),
        ("retention:\n  max_size: 9999999TiB\n", "retention.max_size", "largest size"),
        ("timeouts:\n  tcp_idle: nan\n", "timeouts.tcp_idle", "not a finite duration"),
    ])
    func anOverflowingDurationOrSizeIsRefusedWithItsLineAndLimit(_ text: String, _ key: String, _ reason: String) throws {
        let (status, output) = try Self.daemon(config: text)
        #expect(status == 1, "status \(status): \(output)")
        #expect(output.contains("telltale.yaml:"), "\(output)")
        #expect(output.contains(key) && output.contains(reason), "\(output)")
    }
}
