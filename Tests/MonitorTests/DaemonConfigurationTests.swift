import Foundation
import Testing

@testable import Monitor

/// The configuration file: every key optional, every mistake named with its line.
struct DaemonConfigurationTests {
    @Test func anEmptyFileMeansTheDefaults() throws {
        let configuration = try DaemonConfiguration.parse("", file: "t.yaml")
        #expect(configuration == DaemonConfiguration())
        #expect(configuration.kernelEvents)
    }

    @Test func readsEverySettingItKnows() throws {
        let text = """
            interfaces: [lo, eth0]
            database: /tmp/x.db
            flush_interval: 500ms
            kernel_events: false
            baseline: /etc/telltale/baseline.tsv
            retention:
              max_age: 7d
              max_size: 10MiB
            """
        let c = try DaemonConfiguration.parse(text, file: "t.yaml")
        #expect(c.interfaces == ["lo", "eth0"])
        #expect(c.database == "/tmp/x.db")
        #expect(c.flushInterval == 500_000_000)
        #expect(!c.kernelEvents)
        #expect(c.baseline == "/etc/telltale/baseline.tsv")
        #expect(c.retentionMaxAge == Int64(7) * 86_400 * 1_000_000_000)
        #expect(c.retentionMaxBytes == 10 << 20)
    }

    @Test func aMistakeNamesTheFileTheLineAndWhatIsWrong() {
        #expect(throws: DaemonConfiguration.Problem.self) {
            try DaemonConfiguration.parse("interfaces: [any]\nkernel_events: maybe\n", file: "t.yaml")
        }
        do {
            _ = try DaemonConfiguration.parse("interfaces: [any]\nkernel_events: maybe\n", file: "t.yaml")
        } catch {
            #expect(error.line == 2)
            #expect(error.description.contains("kernel_events"))
        }
        do {
            _ = try DaemonConfiguration.parse("flush_intervall: 1s\n", file: "t.yaml")
            Issue.record("an unknown key was accepted")
        } catch {
            #expect(error.description.hasPrefix("t.yaml:1:"))
        }
    }

    /// Intervals take what makes sense for them: 106751d as a flush interval would reach the end
    /// of time on its first addition (and did, on a reload, in the running daemon).
    @Test(arguments: [
        ("flush_interval: 106751d\n", "flush_interval: '106751d' is outside 10ms to 1h"),
        ("flush_interval: 0s\n", "flush_interval: '0s' is outside 10ms to 1h"),
        ("timeouts:\n  tcp_idle: 106751d\n", "timeouts.tcp_idle: '106751d' is outside 0s to 30d"),
        ("timeouts:\n  active: 2d\n", "timeouts.active: '2d' is outside 0s to 1d"),
        ("retention:\n  max_age: 106751d\n", "retention.max_age: '106751d' is outside 1m to 36500d"),
        ("export:\n  metrics:\n    interval: 106751d\n", "export.metrics.interval: '106751d' is outside 1s to 1d"),
        ("flush_interval: 0x10\n", "is not a duration"),
    ])
    func anIntervalOutsideItsRangeIsRefused(_ text: String, _ message: String) throws {
        do {
            _ = try DaemonConfiguration.parse(text, file: "t.yaml")
            Issue.record("\(text) was accepted")
        } catch {
            #expect(error.description.contains(message), "\(error)")
        }
        #expect(try DaemonConfiguration.parse("flush_interval: 1h\n", file: "t.yaml").flushInterval == 3_600_000_000_000)
    }

    @Test func aTrustedAlertProgramIsTakenAndAnUntrustedOneIsNot() throws {
        let directory = NSTemporaryDirectory() + "tt-hook-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let hook = directory + "/hook", file = directory + "/telltale.yaml"
        try "#!/bin/sh\n".write(toFile: hook, atomically: false, encoding: .utf8)
        chmod(hook, 0o755)
        try "alerts:\n  command: [\(hook), --json]\n".write(toFile: file, atomically: false, encoding: .utf8)
        chmod(file, 0o644)
        #expect(try DaemonConfiguration.load(file: file).alertCommand == [hook, "--json"])
        chmod(hook, 0o775)
        #expect(throws: DaemonConfiguration.Problem.self) { try DaemonConfiguration.load(file: file) }
        chmod(hook, 0o755)
        chmod(directory, 0o777)
        #expect(throws: DaemonConfiguration.Problem.self) { try DaemonConfiguration.load(file: file) }
        chmod(directory, 0o755)
        #expect(try DaemonConfiguration.parse("alerts:\n  command: /usr/bin/logger -t x\n", file: "t").alertProgram == "/usr/bin/logger")
    }
}
