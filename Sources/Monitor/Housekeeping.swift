public import Capture
public import FlowStore
public import Logging
import Foundation

/// The daemon's housekeeping stage: the heartbeat `status` reads (every 5 s), retention (every
/// minute, while the store is healthy) and the systemd watchdog. Driven with the time passed in.
public struct Housekeeping {
    let store: FlowStore
    let notifier: SystemdNotifier
    let logger: Logger
    let started: Int64
    let interfaces: [String]
    let attribution: String
    let pid = Int(ProcessInfo.processInfo.processIdentifier)
    private var lastHeartbeat: Int64 = 0
    private var lastRetention: Int64 = 0
    private var lastWatchdog: Int64 = 0
    /// How often the heartbeat and retention run, in nanoseconds.
    var heartbeatInterval: Int64 = 5_000_000_000
    var retentionInterval: Int64 = 60_000_000_000

    public init(
        store: FlowStore, notifier: SystemdNotifier, logger: Logger, started: Int64, interfaces: [String], attribution: String
    ) {
        self.store = store
        self.notifier = notifier
        self.logger = logger
        self.started = started
        self.interfaces = interfaces
        self.attribution = attribution
    }

    /// Does what is due at `now` (everything with `force`, but retention only when due).
    public mutating func tick(
        now: Int64, force: Bool = false, counters: PipelineCounters, statistics: CaptureStatistics, written: Int64,
        storeState: String, eventDropped: Int64, retention: DaemonConfiguration, retentionAllowed: Bool = true,
        content: (state: String, dropped: Int64) = ("off", 0)
    ) {
        if now - lastHeartbeat >= heartbeatInterval || force {
            do {
                var state = DaemonState(
                    pid: pid, started: started, heartbeat: now, interfaces: interfaces.joined(separator: ","),
                    frames: counters.frames, dropped: Int64(statistics.dropped + statistics.interfaceDropped), flows: written,
                    storeState: storeState, attribution: attribution, eventDropped: eventDropped)
                state.content = content.state
                state.contentDropped = content.dropped
                try store.saveDaemonState(state)
            } catch {
                logger.warning("cannot save the daemon state: \(error)")
            }
            lastHeartbeat = now
        }
        if retentionAllowed && now - lastRetention >= retentionInterval && storeState == "ok" {
            do {
                let deleted = try store.applyRetention(
                    maxAge: retention.retentionMaxAge, maxBytes: retention.retentionMaxBytes, now: now)
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
    }
}
