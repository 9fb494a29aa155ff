import Posix
import ArgumentParser
import Dispatch
import Foundation
import Logging
import Monitor
import Reporting
#if canImport(Glibc)
import Glibc
#endif

extension Telltale {
    struct Daemon: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Capture continuously and record every flow in the database.",
            discussion: """
                Reads /etc/telltale/telltale.yaml when it exists (or --config FILE); flags override the \
                file. SIGTERM or SIGINT flush every open flow and exit; SIGHUP re-reads the configuration \
                file. When the disk is full, capture goes on, flows wait in memory (bounded, counted) and \
                writing resumes when space returns. Under systemd it reports readiness and pings the \
                watchdog ($NOTIFY_SOCKET, Type=notify). Needs root or CAP_NET_RAW and CAP_NET_ADMIN.
                """
        )

        static let defaultConfigFile = "/etc/telltale/telltale.yaml"

        @Option(help: "Configuration file (YAML); default \(defaultConfigFile) when it exists.")
        var config: String?

        @Option(name: [.customShort("i"), .customLong("interface")], help: "Interface to capture on (repeatable); default: all.")
        var interfaces: [String] = []

        @Option(help: "Database file; default \(DaemonConfiguration.defaultDatabase).")
        var db: String?

        @Option(help: "A capture filter in tcpdump syntax.")
        var filter: String?

        @Option(help: "How often flows are committed, e.g. 1s or 500ms.")
        var flushInterval: String?

        @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
        var logLevel: String?

        @Option(help: "Log lines: 'journal' (each with its syslog priority, <4> for a warning, as journald reads them), 'plain' (time and level), or 'auto' (journal when standard error is the journal).")
        var logFormat: String?

        @Option(help: "Rules directory or file (default /etc/telltale/rules.d when it exists, else the built-in pack).")
        var rules: String?

        @Option(help: "A learning-mode baseline (telltale rules learn): a flow whose program never reached its destination while learning is an alert too.")
        var baseline: String?

        @Flag(help: "Attribute flows by polling the socket tables only, without the kernel's socket events (BPF).")
        var noKernelEvents = false

        @Flag(help: "Inspect content: fingerprint prompts sent to model runtimes over loopback (never their text) and alert when a run of their words, or a canary, leaves this machine in wire or TLS plaintext. TLS plaintext needs CAP_SYS_ADMIN (uprobes on OpenSSL).")
        var inspectContent = false

        @Option(name: .customLong("metrics-textfile"), help: ArgumentHelp("Write Prometheus metrics to this file for node-exporter's textfile collector (*.prom).", valueName: "path"))
        var metricsTextfile: String?

        @Option(name: .customLong("metrics-listen"), help: ArgumentHelp("Serve Prometheus metrics (GET /metrics) on a loopback address or Unix socket: 127.0.0.1:9477, unix:/run/telltale/metrics.sock.", valueName: "address"))
        var metricsListen: String?

        @Option(name: .customLong("ipfix"), help: ArgumentHelp("Send finished flows to this IPFIX collector, e.g. 192.0.2.10:4739.", valueName: "address"))
        var ipfixCollector: String?

        @Flag(name: .customLong("ipfix-group"), help: "Allow a multicast or broadcast --ipfix collector (every host that listens receives each flow record).")
        var ipfixGroup = false

        @Option(name: .customLong("ipfix-transport"), help: "IPFIX over udp (default) or tcp.")
        var ipfixTransport: String?

        /// The command line's settings, for `DaemonConfiguration` to check and apply.
        var overrides: DaemonConfiguration.Overrides {
            var o = DaemonConfiguration.Overrides()
            o.interfaces = interfaces
            o.database = db
            o.filter = filter
            o.flushInterval = flushInterval
            o.logLevel = logLevel
            o.logFormat = logFormat
            o.rules = rules
            o.baseline = baseline
            o.noKernelEvents = noKernelEvents
            o.inspectContent = inspectContent
            o.metricsTextfile = metricsTextfile
            o.metricsListen = metricsListen
            o.ipfixCollector = ipfixCollector
            o.ipfixTransport = ipfixTransport
            o.ipfixGroup = ipfixGroup
            return o
        }

        func validate() throws {
            if let problem = overrides.problem() { throw ValidationError(problem) }
        }

        func run() throws {
            ProcessMemory.returnLargeBuffersWhenFreed()
            let file = config ?? (FileManager.default.fileExists(atPath: Self.defaultConfigFile) ? Self.defaultConfigFile : nil)
            var settings = DaemonConfiguration()
            if let file {
                do {
                    settings = try DaemonConfiguration.load(file: file)
                } catch {
                    Output.error("telltale: \(error)")
                    throw ExitCode(1)
                }
            }
            settings.apply(overrides)
            let level = Logger.Level(rawValue: settings.logLevel) ?? .info
            let format = settings.logFormat
            LoggingSystem.bootstrap { _ in PriorityLogHandler(level: level, format: format) }
            let logger = Logger(label: "telltale")
            let directory = (settings.database as NSString).deletingLastPathComponent
            if !directory.isEmpty { try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }

            let daemon = Monitor.Daemon(
                configuration: settings, configurationFile: file, logger: logger,
                notifier: SystemdNotifier(environment: ProcessInfo.processInfo.environment))
            Signals.install(stop: { daemon.stop() }, reload: { daemon.requestReload() })
            do {
                try daemon.run()
            } catch {
                Output.error("telltale: \(error)")
                throw ExitCode(1)
            }
        }
    }
}
