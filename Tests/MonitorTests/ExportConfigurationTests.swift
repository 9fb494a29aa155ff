import Export
import Foundation
import Testing

@testable import Monitor
import Posix

/// The `export` section of the configuration file and what the shipped file says.
struct ExportConfigurationTests {
    @Test func theShippedFileParsesWithEveryExportOff() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("config/telltale.yaml").path
        let configuration = try DaemonConfiguration.parse(try String(contentsOfFile: path, encoding: .utf8), file: path)
        #expect(configuration.export == ExportStage.Settings())
        #expect(!configuration.export.isEnabled)
        #expect(configuration.export.ipfixEnterpriseNumber == 32473)
        // Content inspection is off as shipped, with the defaults written out.
        #expect(configuration.content == ContentSettings())
    }

    @Test func readsTheContentSettingsAndRefusesValuesOutOfRange() throws {
        let c = try DaemonConfiguration.parse("""
            inspect_content: true
            content: {retention: 2h, minimum_words: 12, memory: 16MiB, runtime_ports: [5001, 8000]}
            """, file: "t.yaml")
        #expect(c.content.enabled)
        #expect(c.content.retention == 2 * 3_600_000_000_000)
        #expect(c.content.minimumWords == 12)
        #expect(c.content.memoryBytes == 16 << 20)
        #expect(c.content.runtimePorts == [5001, 8000])
        for bad in ["content: {retention: 0s}", "content: {minimum_words: 2}", "content: {runtime_ports: [70000]}",
                    "content: {memory: 1KiB}", "content: {colour: blue}", "inspect_content: sometimes"] {
            #expect(throws: DaemonConfiguration.Problem.self, "\(bad)") { try DaemonConfiguration.parse(bad, file: "t.yaml") }
        }
    }

    @Test func readsEveryExportKey() throws {
        let c = try DaemonConfiguration.parse("""
            export:
              metrics:
                textfile: /var/lib/prometheus/node-exporter/telltale.prom
                listen: unix:/run/telltale/metrics.sock
                interval: 10s
                program_labels: 20
              ipfix:
                collector: "[2001:db8::10]:4739"
                transport: tcp
                template_refresh: 30s
                observation_domain: 7
                enterprise_number: 99999
            """, file: "t.yaml")
        #expect(c.export.metricsTextfile == "/var/lib/prometheus/node-exporter/telltale.prom")
        #expect(c.export.metricsListen == .unix(path: "/run/telltale/metrics.sock"))
        #expect(c.export.metricsInterval == 10_000_000_000 && c.export.programLabels == 20)
        #expect(c.export.ipfixCollector == .inet(host: "2001:db8::10", port: 4739))
        #expect(c.export.ipfixTransport == .tcp && c.export.ipfixTemplateRefresh == 30_000_000_000)
        #expect(c.export.ipfixObservationDomain == 7 && c.export.ipfixEnterpriseNumber == 99999)
        #expect(c.export.isEnabled)
    }

    @Test(arguments: [
        ("export:\n  metrics:\n    listen: 192.0.2.1:9477\n", 3, "only a loopback address"),
        ("export:\n  metrics:\n    textfile: /tmp/telltale.txt\n", 3, "ending in .prom"),
        ("export:\n  ipfix:\n    collector: collector.lan:4739\n", 3, "not a numeric IP address"),
        ("export:\n  ipfix:\n    collector: unix:/tmp/x\n", 3, "an IP address and port"),
        ("export:\n  ipfix:\n    transport: sctp\n", 3, "udp or tcp"),
        ("export:\n  ipfix:\n    collector: 239.1.2.3:4739\n", 3, "is a multicast address"),
        ("export:\n  ipfix:\n    collector: 255.255.255.255:4739\n", 3, "is a broadcast address"),
        ("export:\n  ipfix:\n    collector: '[ff02::1]:4739'\n", 3, "is a multicast address"),
        ("export:\n  ipfix:\n    collector: '[::ffff:224.0.0.1]:4739'\n", 3, "is a multicast address"),
        ("export:\n  ipfix:\n    collector: 0.0.0.0:4739\n    allow_group: true\n", 3, "no host's address"),
        ("export:\n  ipfix:\n    colector: 127.0.0.1:4739\n", 3, "unknown key 'colector'"),
        ("export:\n  metrics:\n    program_labels: 0\n", 3, "from 1 to 1000"),
    ])
    func aMistakeInTheExportSectionNamesItsLine(_ text: String, _ line: Int, _ message: String) {
        #expect {
            try DaemonConfiguration.parse(text, file: "t.yaml")
        } throws: { error in
            guard let problem = error as? DaemonConfiguration.Problem else { return false }
            return problem.line == line && problem.message.contains(message)
        }
    }

    /// A group collector is taken only when asked for by name, in either order of the keys.
    @Test func aMulticastCollectorIsTakenOnlyWhenAllowed() throws {
        let c = try DaemonConfiguration.parse("export:\n  ipfix:\n    allow_group: true\n    collector: 239.1.2.3:4739\n", file: "t.yaml")
        #expect(c.export.ipfixCollector == .inet(host: "239.1.2.3", port: 4739))
        #expect(SocketAddress.inet(host: "198.18.0.10", port: 4739).collectorProblem(allowGroup: false) == nil)
        #expect(SocketAddress.inet(host: "2001:db8::10", port: 4739).collectorProblem(allowGroup: false) == nil)
    }
}
