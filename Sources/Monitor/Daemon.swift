public import Capture
public import FlowStore
public import Flows
public import Logging
import Export
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Alerting
import PacketParsing
import Policy
import Posix
import ProcessAttribution
import Reporting
import Synchronization

/// The long-running service: the live pipeline hands out decided flows; the calling thread runs
/// the stages on them — alerts, the store (one transaction per flush), housekeeping (heartbeat,
/// retention, watchdog) — and speaks systemd's notify protocol.
///
/// Threads: the pipeline's capture and attribution threads, and the calling thread, which owns the
/// stages. `stop()` and `requestReload()` may be called from any thread (signal handlers).
public final class Daemon: Sendable {
    private let configurationFile: String?
    private let baseConfiguration: DaemonConfiguration
    private let logger: Logger
    private let notifier: SystemdNotifier
    /// The capture's stop signal while it runs, so `stop()` can reach it from a signal handler.
    private let running = Mutex<StopSignal?>(nil)
    private let stopRequested = Atomic<Bool>(false)
    private let reloadRequested = Atomic<Bool>(false)
    private let packets: LivePipeline.Options.Packets
    private let owners: LivePipeline.Options.Owners

    /// - Parameters:
    ///   - configuration: the settings in force (file plus command-line flags).
    ///   - configurationFile: re-read on reload; flags given on the command line are not re-applied.
    ///   - packets: where frames come from; a capture file ends the run at its end.
    ///   - owners: who owns the sockets; a process table at another root needs no privilege.
    public init(
        configuration: DaemonConfiguration, configurationFile: String?, logger: Logger, notifier: SystemdNotifier,
        packets: LivePipeline.Options.Packets = .interfaces, owners: LivePipeline.Options.Owners = .system
    ) {
        baseConfiguration = configuration
        self.configurationFile = configurationFile
        self.logger = logger
        self.notifier = notifier
        self.packets = packets
        self.owners = owners
    }

    /// Asks the daemon to flush every open flow and exit.
    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        running.withLock { $0?.trigger() }
    }

    /// Asks the daemon to re-read its configuration at the next flush.
    public func requestReload() { reloadRequested.store(true, ordering: .releasing) }

    /// Runs until stopped. Throws when the database, the rules or the capture cannot be opened at the start.
    public func run() throws {
        var configuration = baseConfiguration
        let store = try FlowStore(path: configuration.database)
        // Said last, once everything below has ended: the alerts delivered or stored, the threads
        // joined, the database checkpointed.
        defer { logger.info("stopped") }
        // Every way out (a signal, a failed start, a database that stopped taking writes) leaves
        // the committed flows in the database file itself, not only in its WAL.
        defer { store.checkpoint() }
        let logger = self.logger
        let engine = try Daemon.loadRules(configuration, logger: logger)
        let alerts = try AlertCenter(sinks: Daemon.sinks(configuration, logger: logger), store: store, logger: logger)
        defer { alerts.stop() }

        var options = LivePipeline.Options()
        options.interfaces = configuration.interfaces
        options.packets = packets
        options.owners = owners
        options.capture.snapLength = configuration.snapLength
        options.capture.filter = configuration.filter
        options.timeouts = configuration.timeouts
        options.localNetworks = configuration.localNetworks
        options.kernelEvents = configuration.kernelEvents
        options.judgesStarts = engine != nil || configuration.baseline != nil
        if configuration.content.enabled { options.content = configuration.content }
        // Capture starts as soon as the socket events are live; polling joins once /proc is scanned.
        options.waitForPolling = false
        let pipeline = try LivePipeline(options: options, rules: engine, logger: logger)
        pipeline.enricher.baseline = try Daemon.loadBaseline(configuration, logger: logger)
        defer { pipeline.close() }
        let attribution = pipeline.attributionState ?? "off"
        running.withLock { $0 = pipeline.stop }
        if stopRequested.load(ordering: .acquiring) { pipeline.stop.trigger() }
        // Every listener is up before the daemon says it captures: a metrics port already taken
        // ends the start here, with nothing announced.
        let exporting = try Daemon.exportStage(configuration, logger: logger)
        defer { exporting?.finish() }
        let started = SystemClock.wallNanoseconds()
        // What `status` and the log say is captured: the interfaces, or the file read in their place.
        let capturing: [String]
        switch packets {
        case .interfaces: capturing = configuration.interfaces
        case .file(let path): capturing = ["file:\(path)"]
        }
        var housekeeping = Housekeeping(
            store: store, notifier: notifier, logger: logger, started: started, interfaces: capturing,
            attribution: attribution)
        // The state is in the database before anyone is told the daemon is ready: `status` or `top`
        // started at READY sees a running daemon, not none.
        housekeeping.tick(
            now: started, force: true, counters: PipelineCounters(), statistics: CaptureStatistics(), written: 0,
            storeState: "ok", eventDropped: 0, retention: configuration, retentionAllowed: false)
        logger.info("capturing", metadata: [
            "interfaces": "\(capturing.joined(separator: ","))", "database": "\(store.path)",
            "pcap": "\(PcapHandle.libraryVersion)", "attribution": "\(attribution)",
        ])
        notifier.notify("READY=1\nSTATUS=capturing on \(capturing.joined(separator: ", ")); attribution: \(attribution)")

        var storing = StoreStage(writer: FlowWriter(store: store), flushInterval: configuration.flushInterval)
        var lastWrite: Int64 = 0
        var alerting = AlertStage(center: alerts)
        alerting.budgets = BudgetTracker(budgets: engine?.ruleSet.allBudgets ?? [])
        var lastCanaries: Int64 = 0
        if let content = pipeline.content {
            logger.notice("content inspection on: prompts to model runtimes are kept as fingerprints only (never text) for \(content.settings.retention / 3_600_000_000_000) h; a run of \(content.settings.minimumWords) words or a canary leaving this machine is a content/prompt-leak alert")
        }
        while true {
            var batch = pipeline.next(waitMilliseconds: 100)
            let now = SystemClock.wallNanoseconds()
            if let content = pipeline.content, now - lastCanaries > 5_000_000_000 {
                // Canaries made by `telltale canary new` since the last look.
                if let canaries = try? store.canaries() { content.setCanaries(canaries.map { ($0.token, $0.label ?? "canary \($0.id)") }) }
                lastCanaries = now
            }
            if reloadRequested.exchange(false, ordering: .acquiring) {
                configuration = reload(current: configuration, pipeline: pipeline)
                storing.flushInterval = configuration.flushInterval
                alerting.budgets.replace(pipeline.enricher.ruleEngine?.ruleSet.allBudgets ?? [])
            }
            // Policy at the first packet: a flow that breaks it alerts now, named by the DNS answer
            // seen before it when there was one.
            alerting.started(batch.started)
            alerting.written(&batch.flows)
            let written = batch.flows.map { ($0.row, $0.isOpen) }
            storing.add(written, intervals: batch.intervals)
            // The exports get the same flows, on their own thread; a full queue there drops, counted.
            exporting?.submit(written)
            let outcome = storing.flush(now: now, force: batch.isLast, queueDropped: pipeline.queueDropped)
            if case .written = outcome { lastWrite = now }
            if case .resumed = outcome { lastWrite = now }
            switch outcome {
            case .resumed:
                logger.notice("writing resumed", metadata: ["database": "\(store.path)"])
                notifier.notify("STATUS=capturing; writing resumed")
            case .failed(let state, let message):
                logger.error("\(message); capture continues and \(storing.waiting) flows wait in memory")
                notifier.notify("STATUS=capturing; \(state): flows wait in memory")
            case .written(let count) where count >= storing.batchLimit / 2:
                // A burst (open flows checkpointed together) is over: hand its freed memory back.
                ProcessMemory.returnFreedMemory()
            case .nothingDue, .written, .stillFailing:
                break
            }
            if batch.isLast && storing.waiting > 0 && storing.state != "ok" {
                logger.error("exiting with \(storing.waiting) flows unwritten: the database cannot be written (\(storing.state))")
                break
            }
            let (counters, statistics) = pipeline.snapshot
            if let exporting {
                var health = DaemonHealth()
                health.started = started
                health.frames = counters.frames
                health.received = Int64(statistics.received)
                health.kernelDropped = Int64(statistics.dropped)
                health.interfaceDropped = Int64(statistics.interfaceDropped)
                health.flowQueueDropped = pipeline.queueDropped + storing.dropped
                health.socketEventsDropped = pipeline.eventsDropped
                if let content = pipeline.content {
                    let c = content.counters
                    health.contentDropped = c.droppedBytes
                    health.promptsFingerprinted = Int64(c.promptsRecorded)
                }
                health.flowsWritten = storing.written
                health.flowsWaiting = Int64(storing.waiting)
                health.storeState = storing.state
                health.lastWrite = lastWrite
                health.attribution = attribution
                health.alertsBySeverity = alerting.raised
                exporting.update(health)
            }
            housekeeping.tick(
                now: now, force: batch.isLast, counters: counters, statistics: statistics, written: storing.written,
                storeState: storing.state, eventDropped: pipeline.eventsDropped, retention: configuration,
                content: (pipeline.contentState, pipeline.content?.counters.droppedBytes ?? 0))
            if batch.isLast && storing.waiting == 0 { break }
        }
        notifier.notify("STOPPING=1")
        let (c, s) = pipeline.snapshot
        logger.info("stopping: flows written; alerts, exports and threads finish", metadata: [
            "frames": "\(c.frames)", "flows_written": "\(storing.written)", "kernel_dropped": "\(s.dropped)",
            "queue_dropped": "\(pipeline.queueDropped + storing.dropped)", "socket_events_dropped": "\(pipeline.eventsDropped)",
        ])
    }

    /// The export stage, when an export is configured; an endpoint that cannot open stops the daemon.
    static func exportStage(_ configuration: DaemonConfiguration, logger: Logger) throws -> ExportStage? {
        let settings = configuration.export
        guard settings.isEnabled else { return nil }
        do {
            let stage = try ExportStage(settings: settings, logger: logger)
            logger.info("exporting", metadata: [
                "metrics_textfile": "\(settings.metricsTextfile ?? "-")",
                "metrics_listen": "\(settings.metricsListen?.description ?? "-")",
                "ipfix": "\(settings.ipfixCollector.map { "\($0) over \(settings.ipfixTransport.rawValue)" } ?? "-")",
            ])
            return stage
        } catch {
            throw DaemonError(message: "export: \(error); nothing was started")
        }
    }

    /// The learning-mode baseline, when one is configured; an unreadable one stops the daemon.
    static func loadBaseline(_ configuration: DaemonConfiguration, logger: Logger) throws -> Baseline? {
        guard let path = configuration.baseline else { return nil }
        do {
            let baseline = try Baseline.load(path: path, time: Timestamp.parse)
            logger.info("learning-mode baseline loaded: flows outside it are alerts", metadata: [
                "baseline": "\(path)", "pairs": "\(baseline.entries.count)", "key": "\(baseline.key.rawValue)",
            ])
            return baseline
        } catch {
            throw DaemonError(message: "the baseline \(path) cannot be used; nothing was started: \(error)")
        }
    }

    /// The rules in force at the start; a broken pack stops the daemon with every problem listed.
    static func loadRules(_ configuration: DaemonConfiguration, logger: Logger) throws -> RuleEngine? {
        do {
            let (engine, origin) = try RuleEngine.load(configured: configuration.rules)
            if origin == .builtIn {
                let set = engine.ruleSet
                logger.notice("no rules directory (no /etc/telltale/rules.d, no --rules): applying \(DefaultRulePack.location) (\(set.roles.count) roles, \(set.rules.count) rules); install them as /etc/telltale/rules.d to edit them")
            } else {
                logger.info("rules loaded", metadata: ["rules": "\(origin.description)"])
            }
            return engine
        } catch {
            let which = Daemon.rulesPath(configuration).map { "the rules in \($0)" } ?? DefaultRulePack.location
            throw DaemonError(message: "\(which) are broken; nothing was started:\n" + error.problems.map(\.description).joined(separator: "\n"))
        }
    }

    /// The rules to load: the configured path, else the installed directory when it exists.
    static func rulesPath(_ configuration: DaemonConfiguration) -> String? {
        if let path = configuration.rules { return path }
        return FileManager.default.fileExists(atPath: "/etc/telltale/rules.d") ? "/etc/telltale/rules.d" : nil
    }

    static func sinks(_ c: DaemonConfiguration, logger: Logger) throws -> [any AlertSink] {
        var sinks: [any AlertSink] = []
        if c.alertLog { sinks.append(LogSink(logger: logger)) }
        if c.alertDesktop { sinks.append(DesktopSink()) }
        if let url = c.alertWebhook {
            do {
                sinks.append(try WebhookSink(url: url))
            } catch {
                throw DaemonError(message: "alerts.webhook: \(error)")
            }
        }
        if !c.alertCommand.isEmpty { sinks.append(CommandSink(arguments: c.alertCommand)) }
        return sinks
    }

    /// Re-reads the configuration file and the rules; what cannot change live waits for a restart,
    /// and broken files keep the previous settings and rules in force.
    private func reload(current: DaemonConfiguration, pipeline: LivePipeline) -> DaemonConfiguration {
        let configuration = reloadConfiguration(current: current)
        pipeline.enricher.updateLocalNetwork(LocalNetwork.thisMachine(extra: configuration.localNetworks))
        if let engine = pipeline.enricher.ruleEngine {
            do {
                // The built-in pack gives way to a rules directory installed since the start.
                if engine.path == nil, let path = Daemon.rulesPath(configuration) {
                    pipeline.enricher.ruleEngine = try RuleEngine(directory: path)
                } else {
                    pipeline.enricher.ruleEngine = try engine.reloaded()
                }
                logger.info("rules reloaded")
            } catch {
                logger.error("rules reload failed; the previous rules stay in force:\n\(error.problems.map(\.description).joined(separator: "\n"))")
            }
        }
        return configuration
    }

    private func reloadConfiguration(current: DaemonConfiguration) -> DaemonConfiguration {
        guard let file = configurationFile else {
            logger.info("reload: no configuration file in use; nothing to re-read")
            return current
        }
        do {
            var fresh = try DaemonConfiguration.load(file: file)
            if fresh.interfaces != current.interfaces || fresh.filter != current.filter
                || fresh.snapLength != current.snapLength || fresh.database != current.database
                || fresh.timeouts != current.timeouts || fresh.kernelEvents != current.kernelEvents
                || fresh.export != current.export
            {
                logger.notice("reload: interfaces, filter, snaplen, database, timeouts, kernel_events and export take effect at the next restart")
                fresh.export = current.export
                fresh.kernelEvents = current.kernelEvents
                fresh.interfaces = current.interfaces
                fresh.filter = current.filter
                fresh.snapLength = current.snapLength
                fresh.database = current.database
                fresh.timeouts = current.timeouts
            }
            logger.info("reloaded \(file)")
            return fresh
        } catch {
            logger.error("reload failed, keeping the previous configuration: \(error)")
            return current
        }
    }
}

/// The daemon could not start.
public struct DaemonError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
