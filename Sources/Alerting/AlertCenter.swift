public import Reporting
public import Logging
import Foundation
import Posix
import Synchronization

/// Takes alerts from the store writer without ever blocking it: de-duplicates them per
/// (program, destination, rule) within a window, limits their rate, stores them, and delivers them
/// to the sinks on a worker thread of its own through a bounded queue that counts what it drops.
///
/// Windows and rates are measured on the alerts' own times, so replays behave like live capture.
public final class AlertCenter: Sendable {
    public struct Settings: Sendable {
        /// A repeat of the same (program, destination, rule) within this many nanoseconds is a duplicate.
        public var deduplicationWindow: Int64 = 600 * 1_000_000_000
        /// At most this many alerts are delivered per `rateInterval`; the rest are stored only.
        public var rateLimit: Int = 30
        public var rateInterval: Int64 = 60 * 1_000_000_000
        /// Alerts waiting for the worker; beyond this they are dropped and counted.
        public var queueCapacity: Int = 1_000
        public init() {}
    }

    /// What became of a submitted alert.
    public enum Outcome: Sendable, Equatable {
        case queued
        case duplicate
        /// Stored, but not delivered to the sinks.
        case rateLimited
        /// The queue was full: neither stored nor delivered (counted in `counters.dropped`).
        case dropped
    }

    public struct Counters: Sendable, Equatable {
        public var submitted: Int64 = 0
        public var duplicates: Int64 = 0
        public var rateLimited: Int64 = 0
        public var dropped: Int64 = 0
        public var stored: Int64 = 0
        public var delivered: Int64 = 0
        public var failedDeliveries: Int64 = 0
    }

    private struct Key: Hashable {
        var program: String
        var destination: String
        var rule: String
    }

    private struct Queued: Sendable {
        var alert: AlertRecord
        var deliver: Bool
    }

    private struct State {
        var lastSeen: [Key: Int64] = [:]
        var windowStart: Int64?
        var windowCount = 0
        var queue: [Queued] = []
        var busy = false
        var stopping = false
        /// After this (monotonic nanoseconds), alerts still queued at a stop are stored, not delivered.
        var deliverUntil: Int64 = .max
        var counters = Counters()
    }

    /// How long a stop goes on delivering what is queued (a webhook or a notification takes seconds
    /// each at worst): well inside systemd's stop timeout, and every alert is stored all the same.
    public static let stopDeliveryWindow: Int64 = 5_000_000_000

    private let sinks: [any AlertSink]
    private let settings: Settings
    private let store: (any AlertStore)?
    private let logger: Logger
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    /// Starts the worker thread.
    /// - Parameter store: where alerts are recorded (with the sinks that took them); nil stores nothing.
    public init(sinks: [any AlertSink], settings: Settings = Settings(), store: (any AlertStore)?, logger: Logger) {
        self.sinks = sinks
        self.settings = settings
        self.store = store
        self.logger = logger
        let thread = Thread { [self] in work() }
        thread.name = "telltale-alerts"
        thread.start()
    }

    /// Hands an alert over; returns at once.
    @discardableResult
    public func submit(_ alert: AlertRecord) -> Outcome {
        let key = Key(program: alert.exe ?? alert.process ?? "unattributed", destination: alert.hostname ?? alert.remoteAddress, rule: alert.rule)
        let outcome: Outcome = state.withLock { s in
            s.counters.submitted += 1
            if s.stopping { s.counters.dropped += 1; return .dropped }
            if let last = s.lastSeen[key], alert.time - last < settings.deduplicationWindow, alert.time >= last {
                s.counters.duplicates += 1
                return .duplicate
            }
            if s.lastSeen.count > 100_000 {
                let horizon = alert.time - settings.deduplicationWindow
                s.lastSeen = s.lastSeen.filter { $0.value >= horizon }
            }
            guard s.queue.count < settings.queueCapacity else {
                s.counters.dropped += 1
                return .dropped
            }
            s.lastSeen[key] = alert.time
            if let start = s.windowStart, alert.time >= start, alert.time - start < settings.rateInterval {
                // still in the current window
            } else {
                s.windowStart = alert.time
                s.windowCount = 0
            }
            s.windowCount += 1
            let deliver = s.windowCount <= settings.rateLimit
            if !deliver { s.counters.rateLimited += 1 }
            s.queue.append(Queued(alert: alert, deliver: deliver))
            return deliver ? .queued : .rateLimited
        }
        if outcome == .queued || outcome == .rateLimited { wake.signal() }
        return outcome
    }

    public var counters: Counters { state.withLock { $0.counters } }

    /// Whether nothing is waiting or being delivered.
    public var isIdle: Bool { state.withLock { $0.queue.isEmpty && !$0.busy } }

    /// Delivers what is queued, then ends the worker. Further alerts are dropped.
    public func stop() {
        let (already, pending) = state.withLock { s in
            defer {
                s.stopping = true
                s.deliverUntil = SystemClock.monotonicNanoseconds() + AlertCenter.stopDeliveryWindow
            }
            return (s.stopping, s.queue.count)
        }
        guard !already else { return }
        if pending > 0 {
            logger.notice("stopping: \(pending) alerts queued; delivered for up to \(AlertCenter.stopDeliveryWindow / 1_000_000_000) s, then stored without delivery")
        }
        wake.signal()
        finished.wait()
    }

    private func work() {
        while true {
            wake.wait()
            while true {
                let next: Queued? = state.withLock { s in
                    guard !s.queue.isEmpty else {
                        s.busy = false
                        return nil
                    }
                    s.busy = true
                    return s.queue.removeFirst()
                }
                guard let item = next else { break }
                handle(item)
            }
            if state.withLock({ $0.stopping && $0.queue.isEmpty }) {
                finished.signal()
                return
            }
        }
    }

    private func handle(_ item: Queued) {
        var alert = item.alert
        var id: Int64?
        if let store {
            alert.delivered = item.deliver ? [] : ["rate-limited"]
            do {
                id = try store.insertAlert(alert)
                state.withLock { $0.counters.stored += 1 }
            } catch {
                logger.error("alert not stored: \(error)")
            }
        }
        guard item.deliver else { return }
        if state.withLock({ $0.stopping && SystemClock.monotonicNanoseconds() > $0.deliverUntil }) {
            if let store, let id { try? store.setAlertDelivered(id: id, sinks: ["not delivered: stopped"]) }
            return
        }
        let json = alert.json
        var delivered: [String] = []
        for sink in sinks {
            if sink.deliver(alert, json: json) {
                delivered.append(sink.name)
            } else {
                state.withLock { $0.counters.failedDeliveries += 1 }
            }
        }
        state.withLock { $0.counters.delivered += delivered.isEmpty ? 0 : 1 }
        if let store, let id, !delivered.isEmpty {
            do { try store.setAlertDelivered(id: id, sinks: delivered) } catch { logger.error("alert delivery not recorded: \(error)") }
        }
    }
}
