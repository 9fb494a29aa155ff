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
}
