public import Capture
public import Posix
import Foundation
import Posix
#if canImport(Glibc)
import Glibc
#endif
public import Flows
public import FlowStore
public import Logging
public import PacketParsing
public import Policy
public import ProcessAttribution
public import Reporting

/// The live pipeline, composed in this one place for the daemon, `run`/`infer` and `capture`:
/// kernel socket events and process attribution first (so no socket goes unseen), then capture on
/// its own thread, names, rows facing this machine, and the rules' verdict. Consumers take batches
/// of decided flows with `next(waitMilliseconds:)` and never see the parts.
///
/// Threads: the capture thread owns the pcap handles and the flow table; the attribution worker
/// looks sockets up beside it; rows and decisions are made on the thread that calls `next`.
public final class LivePipeline: Sendable {
    public struct Options: Sendable {
        /// Where frames come from: the interfaces, or a capture file read as if it were live (see
        /// `RecordedCapture`).
        public enum Packets: Sendable, Equatable {
            case interfaces
            case file(String)
        }

        /// Who owns the sockets: this system (the kernel's socket events when `kernelEvents` and they
        /// load, else polling /proc), or a process table at another root, polled alone (a /proc tree
        /// written by a test; no netlink, no kernel events).
        public enum Owners: Sendable, Equatable {
            case system
            case processTable(root: String, passwd: String)
        }

        /// Interfaces to capture on; `any` is every interface, loopback included.
        public var interfaces = ["any"]
        public var packets = Packets.interfaces
        public var owners = Owners.system
        public var capture = PcapHandle.LiveOptions()
        public var timeouts = FlowTimeouts()
        /// Name destinations from observed DNS, SNI and Host.
        public var names = true
        /// Attribute flows to processes.
        public var attribution = true
        /// Attribute from the kernel's socket events when they load (false: polling only).
        public var kernelEvents = true
        /// Networks that count as this machine's, beside its interfaces' addresses.
        public var localNetworks: [IPNetwork] = []
        public var limits = LiveSession.Limits()
        /// Judge each flow at its first packet too (alerts that must not wait for the flow's end).
        public var judgesStarts = false
        /// Capture inside this named network namespace (`run --isolate`); attribution then knows
        /// that even loopback sockets live elsewhere.
        public var namespace: String?
        /// Return from `init` only once the process table's first /proc scan is done (polling
        /// ready); the daemon starts capturing at once instead and polls once the scan is done.
        public var waitForPolling = true
        /// Content evidence (nil or not enabled: off). On, the capture keeps whole payloads.
        public var content: ContentSettings?
        /// Copy every frame, as captured, to a new pcapng file at this path (`run --evidence`).
        public var evidenceCapture: String?
        public init() {}
    }

    /// A flow with its row and the rules' decision (nil without rules).
    public struct Decided: Sendable {
        public var row: FlowRow
        public var decision: Decision?
        /// Still open: an active-timeout update rather than the flow's end.
        public var isOpen: Bool
        /// What content inspection found in the flow since it was last handed out.
        public var findings: [ContentInspector.Finding] = []

        public init(row: FlowRow, decision: Decision?, isOpen: Bool, findings: [ContentInspector.Finding] = []) {
            self.row = row
            self.decision = decision
            self.isOpen = isOpen
            self.findings = findings
        }
    }

    /// What the pipeline hands out at a time.
    public struct Batch: Sendable {
        /// Flows judged at their first packet (only with `judgesStarts`).
        public var started: [Decided] = []
        /// Flows that ended, and open flows' updates.
        public var flows: [Decided] = []
        /// Capture counters per interval.
        public var intervals: [CaptureInterval] = []
        /// The capture has ended and this is the last batch.
        public var isLast = false
    }

    /// Flows handed out per batch at most.
    static let batchLimit = 10_000

    /// Fires to end the capture; every open flow is then handed out as ended.
    public let stop: StopSignal
    public let enricher: FlowEnricher
    public let attribution: AttributionWorker?
    /// Content inspection, when on.
    public let content: ContentInspector?
    /// The TLS write probes feeding `content`, when they could load.
    private let tlsSource: TLSPlaintextSource?
    private let tlsUnavailable: String?
    private let capturing: CaptureThread

    /// Loads attribution, opens the capture and starts it. Throws when the capture cannot be opened.
    public init(options: Options, rules: RuleEngine? = nil, policyOverlay: RuleEngine? = nil, logger: Logger) throws(CaptureError) {
        let local = LocalNetwork.thisMachine(extra: options.localNetworks)
        var worker: AttributionWorker?
        if options.attribution {
            var attributorOptions = Attributor.Options()
            attributorOptions.attributeOtherNamespaces = true
            var procRoot = "/proc"
            if case .processTable(let root, let passwd) = options.owners {
                procRoot = root
                attributorOptions.useProcessEvents = false
                attributorOptions.useSocketDiagnostics = false
                attributorOptions.passwdPath = passwd
            }
            worker = AttributionWorker(
                attributor: Attributor(procRoot: procRoot, logger: logger, options: attributorOptions), local: local,
                capturesAnotherNamespace: options.namespace != nil, kernelEvents: options.kernelEvents && options.owners == .system)
            // Socket events before capture: every socket used from here on is known from its first use.
            worker?.start(logger: logger, waitForPolling: options.waitForPolling)
        }
        var captureOptions = options.capture
        var inspector: ContentInspector?
        if let settings = options.content, settings.enabled {
            // Whole payloads: prompts on loopback and plaintext leaving the machine are read in full.
            captureOptions.trimsPayload = false
            captureOptions.snapLength = 262_144
            let describe: @Sendable (ProcessKey) -> String? = { [worker] key in
                guard let identity = worker?.attributor.identity(pid: key.pid, startTime: key.startTime) else { return nil }
                return FlowRow.Process(identity).displayName
            }
            inspector = ContentInspector(settings: settings, local: local, describe: describe)
        }
        var tls: TLSPlaintextSource?
        var tlsProblem: String?
        if let inspector {
            do {
                tls = try TLSPlaintextSource(inspector: inspector, logger: logger)
            } catch {
                tlsProblem = error.reason
                logger.notice("content inspection without TLS plaintext: \(error.reason); encrypted flows are reported as opaque")
            }
        }
        tlsSource = tls
        tlsUnavailable = tlsProblem
        // With the socket events, packets may come in blocks: the events name their sockets, so no
        // lookup has to race the socket's end, and the senders pay no wakeup per packet.
        if worker?.usesKernelEvents == true { captureOptions.immediate = false }
        let capture: any PacketSource
        do {
            switch options.packets {
            case .interfaces:
                capture = try LivePipeline.openCapture(interfaces: options.interfaces, options: captureOptions, namespace: options.namespace)
            case .file(let path):
                capture = try RecordedCapture(path: path)
            }
        } catch {
            worker?.stop()
            tls?.stop()
            throw error
        }
        capture.onInterfaceChange = { logger.warning("\($0)") }
        var tap: CaptureTap?
        if let path = options.evidenceCapture {
            do {
                // `run` opens one handle (`any`: Linux cooked v2, or the namespace's `lo`): its type is the file's.
                tap = try CaptureTap(
                    path: path, linkType: capture.linkTypes.first ?? .linuxCookedV2, snapLength: captureOptions.snapLength)
            } catch {
                worker?.stop()
                throw error
            }
        }
        attribution = worker
        content = inspector
        enricher = FlowEnricher(
            local: local, attribution: worker, rules: rules, policyOverlay: policyOverlay,
            runtimePorts: options.content?.runtimePorts ?? [], content: inspector)
        capturing = CaptureThread(
            capture: capture, timeouts: options.timeouts, names: options.names, attribution: worker,
            reportsStarts: options.judgesStarts || inspector != nil, limits: options.limits, contentTap: inspector?.tap, tap: tap)
        inspector?.start()
        stop = capturing.stop
    }

    deinit {
        attribution?.stop()
        tlsSource?.stop()
        content?.stop()
    }

    /// The next batch: whatever is ready, waiting up to `waitMilliseconds` when nothing is.
    public func next(waitMilliseconds: Int = 100) -> Batch {
        var batch = Batch()
        for attempt in 0..<2 {
            let finished = capturing.isFinished
            let judging = enricher.ruleEngine != nil || enricher.baseline != nil || enricher.policyOverlay != nil || content != nil
            let started = capturing.started.take()
            // At most a batch's worth at a time: 100,000 open flows checkpointed at once must not become
            // 100,000 rows in memory together.
            let handed = capturing.flows.take(limit: LivePipeline.batchLimit)
            // After taking them: the capture thread copies a payload before its flow can be handed out,
            // so every payload of these flows is inspected before they are judged and written.
            content?.drain()
            if judging {
                batch.started += started.map { record in
                    let (row, decision, findings) = enricher.enrichWithContent(record, ended: false)
                    return Decided(row: row, decision: decision, isOpen: true, findings: findings)
                }
            }
            batch.flows += handed.map { item in
                let (row, decision, findings) = enricher.enrichWithContent(item.record, ended: !item.isOpen)
                return Decided(row: row, decision: decision, isOpen: item.isOpen, findings: findings)
            }
            batch.intervals += capturing.intervals.take()
            batch.isLast = finished && capturing.flows.count == 0
            let empty = batch.started.isEmpty && batch.flows.isEmpty && batch.intervals.isEmpty
            guard attempt == 0, empty, !batch.isLast, waitMilliseconds > 0 else { break }
            usleep(UInt32(waitMilliseconds) * 1000)
        }
        return batch
    }

    /// Waits until the capture thread reads the ring (packets from here on are captured from their
    /// first byte); false when it did not start within `timeoutMilliseconds`.
    public func waitUntilDraining(timeoutMilliseconds: Int = 5_000) -> Bool {
        capturing.waitUntilDraining(timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Stops attribution (capture must have ended: `stop` fired and the last batch taken).
    public func close() {
        attribution?.stop()
        tlsSource?.stop()
        content?.stop()
    }

    /// The latest packet-path counters and kernel statistics (final once the last batch is out).
    public var snapshot: (PipelineCounters, CaptureStatistics) { capturing.snapshot }

    /// What the evidence copy of the frames holds (final once the last batch is out); nil without one.
    public var evidenceCapture: CaptureTap.Summary? { capturing.tapped }

    /// Flows the hand-off to the consumer dropped, and flows attribution could not take.
    public var queueDropped: Int64 { capturing.flows.dropped }

    /// How flows are attributed: `kernel-events`, or `polling (why)`; nil without attribution.
    public var attributionState: String? {
        guard let attribution else { return nil }
        return attribution.usesKernelEvents
            ? "kernel-events" : "polling (\(attribution.kernelEventsUnavailableReason ?? "kernel events off"))"
    }

    /// What content inspection reads, for `status`: `off`, or the plaintext it sees.
    public var contentState: String {
        guard content != nil else { return "off" }
        return tlsSource != nil ? "wire and TLS plaintext" : "wire plaintext only (\(tlsUnavailable ?? "no TLS probes"))"
    }

    /// Whether TLS plaintext is read (uprobes on OpenSSL), and why not.
    public var tlsProbeState: String {
        if let tlsSource { return tlsSource.state }
        return "not attached (\(tlsUnavailable ?? "content inspection off")): wire plaintext only"
    }

    /// Socket events the kernel dropped since the start.
    public var eventsDropped: Int64 { attribution?.eventsDropped ?? 0 }

    static func openCapture(interfaces: [String], options: PcapHandle.LiveOptions, namespace: String?) throws(CaptureError) -> LiveCapture {
        guard let namespace else {
            return try LiveCapture(interfaces: interfaces, options: options)
        }
        // Open the packet socket inside the namespace (a socket stays in the namespace it was made
        // in); the thread is back in its own before the capture is used.
        let result: Result<LiveCapture, CaptureError>
        do {
            result = try NetworkNamespace.run(in: "/run/netns/\(namespace)") {
                Result { () throws(CaptureError) -> LiveCapture in try LiveCapture(interfaces: ["lo"], options: options) }
            }
        } catch {
            throw CaptureError(.open, source: "network namespace \(namespace)", cause: error, context: "cannot enter it")
        }
        return try result.get()
    }
}
