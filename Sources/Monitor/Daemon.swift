public import Capture
public import FlowStore
public import Flows
public import Logging
import Foundation
import Alerting
import PacketParsing
import Policy
import ProcessAttribution
import Reporting
import Synchronization

/// The long-running service: captures on its own thread, commits flows in batches on the calling
/// thread, keeps retention, and speaks systemd's notify protocol.
///
/// Threads: the capture thread owns the pcap handles and the flow table; the calling thread owns the
/// store writer. They meet only in the bounded `HandOff` queues. `stop()` and `requestReload()` may
/// be called from any thread (signal handlers).
public final class Daemon: Sendable {
    private let configurationFile: String?
    private let baseConfiguration: DaemonConfiguration
    private let logger: Logger
    private let notifier: SystemdNotifier
    /// The capture while it runs, so `stop()` can reach it from a signal handler.
    private let running = Mutex<CaptureThread?>(nil)
    private let stopRequested = Atomic<Bool>(false)
    private let reloadRequested = Atomic<Bool>(false)

    /// - Parameters:
    ///   - configuration: the settings in force (file plus command-line flags).
    ///   - configurationFile: re-read on reload; flags given on the command line are not re-applied.
    public init(configuration: DaemonConfiguration, configurationFile: String?, logger: Logger, notifier: SystemdNotifier) {
        baseConfiguration = configuration
        self.configurationFile = configurationFile
        self.logger = logger
        self.notifier = notifier
    }

    /// Asks the daemon to flush every open flow and exit.
    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        running.withLock { $0?.stop.trigger() }
    }

    /// Asks the daemon to re-read its configuration at the next flush.
    public func requestReload() { reloadRequested.store(true, ordering: .releasing) }

    /// Runs until stopped. Throws when the database or the capture cannot be opened at the start.
    public func run() throws {
        var configuration = baseConfiguration
        let store: FlowStore
        do {
            store = try FlowStore(path: configuration.database)
        } catch {
            throw error
        }
        let writer = FlowWriter(store: store)
        var options = PcapHandle.LiveOptions()
        options.snapLength = configuration.snapLength
        options.filter = configuration.filter
        let capture = try LiveCapture(interfaces: configuration.interfaces, options: options)
        let logger = self.logger
        capture.onInterfaceChange = { logger.warning("\($0)") }
        let started = LiveSession.now()
        let pid = Int(ProcessInfo.processInfo.processIdentifier)
        logger.info("capturing", metadata: [
            "interfaces": "\(configuration.interfaces.joined(separator: ","))", "database": "\(store.path)",
            "pcap": "\(PcapHandle.libraryVersion)",
        ])

        var attributorOptions = Attributor.Options()
        attributorOptions.attributeOtherNamespaces = true
        let worker = AttributionWorker(
            attributor: Attributor(logger: logger, options: attributorOptions),
            local: LocalNetwork.thisMachine(extra: configuration.localNetworks))
        // Capture starts at once; lookups begin when the first /proc scan is done.
        worker.start(logger: logger, wait: false)
        defer { worker.stop() }
        let rulesPath = Daemon.rulesPath(configuration)
        var engine: RuleEngine?
        if let rulesPath {
            do {
                engine = try RuleEngine(directory: rulesPath)
                logger.info("rules loaded", metadata: ["rules": "\(rulesPath)"])
            } catch {
                throw DaemonError(message: "the rules in \(rulesPath) are broken; nothing was started:\n" + error.problems.map(\.description).joined(separator: "\n"))
            }
        } else {
            logger.notice("no rules (no /etc/telltale/rules.d, no --rules): flows are recorded unrated and no alert is raised")
        }
        let enricher = FlowEnricher(
            local: LocalNetwork.thisMachine(extra: configuration.localNetworks), attribution: worker, rules: engine)
        let alerts = try AlertCenter(sinks: Daemon.sinks(configuration, logger: logger), store: store, logger: logger)
        defer { alerts.stop() }

        let capturing = CaptureThread(
            capture: capture, timeouts: configuration.timeouts, attribution: worker, reportsStarts: engine != nil)
        let flows = capturing.flows, intervals = capturing.intervals
        running.withLock { $0 = capturing }
        if stopRequested.load(ordering: .acquiring) { capturing.stop.trigger() }

        notifier.notify("READY=1\nSTATUS=capturing on \(configuration.interfaces.joined(separator: ", "))")
        var pending: [FlowWriter.Entry] = []
        /// Flows that have raised their alert already (an open flow is judged again at each update).
        var alerted = Set<UInt64>()
        var pendingIntervals: [CaptureInterval] = []
        var storeState = "ok"
        var nextWrite: Int64 = 0
        var lastRetention: Int64 = 0
        var lastHeartbeat: Int64 = 0
        var lastWatchdog: Int64 = 0
        var written: Int64 = 0
        var pendingDropped: Int64 = 0
        let maxPending = 1_000_000

        while true {
            let finishing = capturing.isFinished
            let now = LiveSession.now()
            if reloadRequested.exchange(false, ordering: .acquiring) {
                configuration = reload(current: configuration)
                enricher.updateLocalNetwork(LocalNetwork.thisMachine(extra: configuration.localNetworks))
                if let current = enricher.ruleEngine {
                    do {
                        enricher.ruleEngine = try current.reloaded()
                        logger.info("rules reloaded")
                    } catch {
                        logger.error("rules reload failed; the previous rules stay in force:\n\(error.problems.map(\.description).joined(separator: "\n"))")
                    }
                }
            }
            // Policy at the first packet: a flow that breaks it alerts now, named by the DNS answer
            // seen before it when there was one.
            for record in capturing.started.take() where enricher.ruleEngine != nil {
                let (row, decision) = enricher.enrich(record, ended: false)
                if let decision, decision.verdict == .alert, alerted.insert(record.uid).inserted {
                    _ = alerts.submit(Daemon.alert(row, decision))
                }
            }
            let handed = flows.take()
            for item in handed {
                let (row, decision) = enricher.enrich(item.record, ended: !item.isOpen)
                pending.append(FlowWriter.Entry(row: row, isOpen: item.isOpen))
                // Re-checked with what was learned since (a name from SNI or Host): alerts once per flow.
                if let decision, decision.verdict == .alert, !alerted.contains(item.record.uid) {
                    alerted.insert(item.record.uid)
                    _ = alerts.submit(Daemon.alert(row, decision))
                }
                if !item.isOpen { alerted.remove(item.record.uid) }
            }
            if alerted.count > 200_000 { alerted.removeAll(keepingCapacity: true) }
            pendingIntervals += intervals.take()
            if pending.count > maxPending {
                // Memory is bounded even when the disk stays full: the oldest waiting flows go, counted.
                let excess = pending.count - maxPending
                pending.removeFirst(excess)
                pendingDropped += Int64(excess)
            }
            if (now >= nextWrite || finishing) && (!pending.isEmpty || !pendingIntervals.isEmpty) {
                let queueDropped = flows.dropped + pendingDropped
                if queueDropped > 0, var last = pendingIntervals.last {
                    last.queueDropped = queueDropped
                    pendingIntervals[pendingIntervals.count - 1] = last
                }
                do {
                    try writer.write(pending, intervals: pendingIntervals)
                    written += Int64(pending.count)
                    pending.removeAll(keepingCapacity: true)
                    pendingIntervals.removeAll()
                    if storeState != "ok" {
                        logger.notice("writing resumed", metadata: ["database": "\(store.path)"])
                        notifier.notify("STATUS=capturing; writing resumed")
                        storeState = "ok"
                    }
                    nextWrite = now + configuration.flushInterval
                } catch {
                    let state = error.kind == .diskFull ? "disk full" : "write failing"
                    if storeState != state {
                        logger.error("\(error); capture continues and \(pending.count) flows wait in memory")
                        notifier.notify("STATUS=capturing; \(state): flows wait in memory")
                        storeState = state
                    }
                    nextWrite = now + 2_000_000_000
                    if finishing {
                        logger.error("exiting with \(pending.count) flows unwritten: \(error)")
                        break
                    }
                }
            }
            if finishing && pending.isEmpty { break }
            if now - lastHeartbeat >= 5_000_000_000 || finishing {
                let (c, s) = capturing.snapshot
                try? store.saveDaemonState(DaemonState(
                    pid: pid, started: started, heartbeat: now, interfaces: configuration.interfaces.joined(separator: ","),
                    frames: c.frames, dropped: Int64(s.dropped + s.interfaceDropped), flows: written, storeState: storeState))
                lastHeartbeat = now
            }
            if now - lastRetention >= 60_000_000_000 && storeState == "ok" {
                do {
                    let deleted = try store.applyRetention(
                        maxAge: configuration.retentionMaxAge, maxBytes: configuration.retentionMaxBytes, now: now)
                    if deleted > 0 { logger.info("retention deleted \(deleted) old flows") }
                } catch {
                    logger.warning("retention failed: \(error)")
                }
                lastRetention = now
            }
            if let interval = notifier.watchdogInterval, now - lastWatchdog >= interval {
                notifier.notify("WATCHDOG=1")
                lastWatchdog = now
            }
            if !finishing { usleep(100_000) }
        }
        notifier.notify("STOPPING=1")
        let (c, s) = capturing.snapshot
        logger.info("stopped", metadata: [
            "frames": "\(c.frames)", "flows_written": "\(written)", "kernel_dropped": "\(s.dropped)",
            "queue_dropped": "\(flows.dropped + pendingDropped)",
        ])
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

    /// The alert for a flow the rules flagged.
    static func alert(_ row: FlowRow, _ decision: Decision) -> AlertRecord {
        let who = row.process.map { "\($0.comm ?? "?")[\($0.pid)]" } ?? "unattributed (\(row.unattributedReason ?? "unknown"))"
        let destination = row.hostname.map { "\($0) (\(row.remoteAddress):\(row.remotePort))" } ?? "\(row.remoteAddress):\(row.remotePort)"
        return AlertRecord(
            time: row.start, flowUID: row.uid, pid: row.process?.pid, exe: row.process?.exe, process: row.process?.comm,
            role: decision.role, remoteAddress: row.remoteAddress, remotePort: row.remotePort, proto: row.proto,
            hostname: row.hostname, rule: decision.rule ?? "unnamed", severity: (decision.severity ?? .medium).rawValue,
            message: decision.message ?? "\(who) reached \(destination) [\(row.scope.rawValue)]", tags: decision.tags)
    }

    private func reload(current: DaemonConfiguration) -> DaemonConfiguration {
        guard let file = configurationFile else {
            logger.info("reload: no configuration file in use; nothing to re-read")
            return current
        }
        do {
            var fresh = try DaemonConfiguration.load(file: file)
            if fresh.interfaces != current.interfaces || fresh.filter != current.filter
                || fresh.snapLength != current.snapLength || fresh.database != current.database
                || fresh.timeouts != current.timeouts
            {
                logger.notice("reload: interfaces, filter, snaplen, database and timeouts take effect at the next restart")
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
