public import Export
import Foundation
public import Logging
public import Posix
public import Reporting
import Synchronization

/// The daemon's export stage: metrics (a node-exporter textfile, a scrape endpoint) and IPFIX, on a
/// thread of their own. The daemon's loop hands it the flows it gives the store (ended flows and
/// open flows' checkpoints) through a bounded hand-off, and its own health figures; a slow or
/// absent collector fills the hand-off, whose drops are counted, and never holds up capture or
/// the store.
///
/// IPFIX carries ended flows only, each once; the metrics count bytes at every checkpoint.
public final class ExportStage: Sendable {
    /// What to export and where.
    public struct Settings: Sendable, Equatable {
        /// node-exporter textfile (`*.prom`), rewritten every `metricsInterval`.
        public var metricsTextfile: String?
        /// A loopback address or Unix socket serving `GET /metrics`.
        public var metricsListen: SocketAddress?
        public var metricsInterval: Int64 = 5_000_000_000
        /// Programs with a label of their own; the rest are summed as `other`.
        public var programLabels = 50
        public var ipfixCollector: SocketAddress?
        public var ipfixTransport: IPFIXExporter.Transport = .udp
        /// A multicast or broadcast collector was asked for explicitly.
        public var ipfixAllowGroup = false
        public var ipfixTemplateRefresh: Int64 = 60_000_000_000
        public var ipfixObservationDomain: UInt32 = 1
        public var ipfixEnterpriseNumber: UInt32 = IPFIXEncoder.documentationEnterpriseNumber
        public init() {}

        public var isEnabled: Bool { metricsTextfile != nil || metricsListen != nil || ipfixCollector != nil }
    }

    struct Item: Sendable {
        var row: FlowRow
        var isOpen: Bool
    }

    private let queue = HandOff<Item>(capacity: 200_000)
    private let health = Mutex(DaemonHealth())
    private let finished = Atomic<Bool>(false)
    private let done = Mutex<Bool>(false)
    private let server: MetricsServer?

    /// Opens the endpoints and starts the thread. Throws when the scrape endpoint cannot listen.
    public init(settings: Settings, logger: Logger) throws(ExportError) {
        var server: MetricsServer?
        if let address = settings.metricsListen {
            server = try MetricsServer(address: address)
            try server?.start()
        }
        self.server = server
        let endpoint = server
        let textfile = try settings.metricsTextfile.map { path throws(ExportError) in try MetricsTextfile(path: path) }
        var exporter: IPFIXExporter?
        if let collector = settings.ipfixCollector {
            exporter = try IPFIXExporter(
                collector: collector, transport: settings.ipfixTransport, templateRefresh: settings.ipfixTemplateRefresh,
                encoder: IPFIXEncoder(
                    observationDomain: settings.ipfixObservationDomain, enterpriseNumber: settings.ipfixEnterpriseNumber,
                    observerHostname: ExportStage.machineName()))
        }
        // The exporter and the metrics belong to the thread from here on.
        nonisolated(unsafe) let ownedExporter = exporter
        let queue = self.queue
        let thread = Thread { [self] in
            var metrics = Metrics(programLimit: settings.programLabels)
            var lastRender: Int64 = 0
            var lastError: String?
            while true {
                let ending = self.finished.load(ordering: .acquiring)
                let items = queue.take(limit: 10_000)
                let now = SystemClock.wallNanoseconds()
                if !items.isEmpty {
                    metrics.record(items.map { ($0.row, $0.isOpen) })
                    if let exporter = ownedExporter {
                        let ended = items.filter { !$0.isOpen }.map(\.row)
                        if !ended.isEmpty { exporter.send(ended, now: now) }
                    }
                }
                ownedExporter?.tick(now: now)
                if let error = ownedExporter?.lastError, error != lastError { logger.warning("ipfix: \(error)") }
                lastError = ownedExporter?.lastError
                let drained = items.count < 10_000
                if now - lastRender >= settings.metricsInterval || (ending && drained) {
                    let text = metrics.render(
                        health: self.health.withLock { $0 }, exportDropped: queue.dropped,
                        ipfix: ownedExporter.map { ($0.flowsSent, $0.flowsDropped) }, now: now)
                    endpoint?.update(text)
                    if let textfile {
                        do { try textfile.write(text) } catch { logger.warning("metrics textfile: \(error)") }
                    }
                    lastRender = now
                }
                if ending && drained { break }
                if items.isEmpty { usleep(100_000) }
            }
            self.done.withLock { $0 = true }
        }
        thread.name = "telltale-export"
        thread.start()
    }

    /// This machine's name from gethostname(2): never through a resolver, which could send a query.
    static func machineName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Queues written flows for the exports; never blocks (a full queue drops, counted).
    public func submit(_ flows: [(row: FlowRow, isOpen: Bool)]) {
        guard !flows.isEmpty else { return }
        queue.push(flows.map { Item(row: $0.row, isOpen: $0.isOpen) })
    }

    /// The daemon's figures for the next metrics.
    public func update(_ figures: DaemonHealth) { health.withLock { $0 = figures } }

    /// Flows the stage dropped because its queue was full.
    public var dropped: Int64 { queue.dropped }

    /// Sends what waits, writes the metrics a last time, and stops (at most `timeout` nanoseconds).
    public func finish(timeout: Int64 = 5_000_000_000) {
        finished.store(true, ordering: .releasing)
        let deadline = SystemClock.wallNanoseconds() + timeout
        while !done.withLock({ $0 }) && SystemClock.wallNanoseconds() < deadline { usleep(20_000) }
        server?.stop()
    }
}
