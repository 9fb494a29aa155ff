#if canImport(Glibc)
import Glibc
#endif
public import Capture
public import Flows
import Names
public import PacketParsing
public import Posix
import ProcessAttribution

/// A live capture through the pipeline until stopped, a duration passes, or a packet count is reached.
///
/// Runs on the calling thread, which it blocks: call it from a dedicated thread in services.
public struct LiveSession {
    public struct Limits: Sendable {
        /// Stop after this many nanoseconds of wall time; nil runs until stopped.
        public var duration: Int64?
        /// Stop after this many frames; nil runs until stopped.
        public var frames: Int64?
        public init(duration: Int64? = nil, frames: Int64? = nil) {
            self.duration = duration
            self.frames = frames
        }
    }

    public var pipeline: FlowPipeline
    public let capture: any PacketSource
    /// Where every frame is copied after the pipeline has counted it (`run --evidence`), if anywhere.
    public var tap: CaptureTap?
    public private(set) var statistics = CaptureStatistics()

    /// - Parameter names: whether destinations are named from observed DNS, SNI and Host.
    /// - Parameter reportsStarts: hand each new flow to `run`'s `started` callback (for attribution).
    public init(
        capture: any PacketSource, timeouts: FlowTimeouts = FlowTimeouts(), uidSeed: UInt64, names: Bool = true,
        reportsStarts: Bool = false, contentTap: ContentTap? = nil
    ) {
        self.capture = capture
        pipeline = FlowPipeline(
            table: FlowTable(timeouts: timeouts, uidSeed: uidSeed, reportsStarts: reportsStarts),
            names: names ? NameTracker() : nil, contentTap: contentTap)
    }

    /// Captures until `stop` fires, a limit is reached or the source runs out; ended flows (and active-timeout updates)
    /// reach `sink` at least once a second. Every open flow is ended and handed out before return.
    public mutating func run(
        stop: StopSignal, limits: Limits = Limits(),
        tick: (_ counters: PipelineCounters, _ statistics: CaptureStatistics) -> Void = { _, _ in },
        onStart: ([FlowRecord]) -> Void = { _ in },
        attribution: AttributionWorker? = nil,
        polling: () -> Void = {},
        sink: (_ ended: [FlowRecord], _ updated: [FlowRecord]) -> Void
    ) {
        let started = SystemClock.wallNanoseconds()
        var lastSweep = started
        var first = true
        let attributor = attribution?.attributor
        /// Gives the flow table the processes that exited since the last look, with when.
        func noteExits() {
            if let attributor, attributor.hasExitedProcesses { pipeline.table.noteExits(attributor.takeExitedProcesses()) }
        }
        while !stop.isTriggered {
            // The first poll returns at once: whoever waits for the capture to drain hears of it now.
            _ = capture.poll(stop: stop, timeoutMilliseconds: first ? 0 : 200, batch: 1024) { linkType, frame, wire, time in
                // Exits before the packets that follow them: a datagram sent after its flow's owner
                // exited starts a flow of its own (the poll may have slept through the exit).
                noteExits()
                pipeline.process(frame, wireLength: wire, timestamp: time, linkType: linkType)
                tap?.copy(frame, linkType: linkType, wireLength: wire, timestamp: time)
            }
            if first {
                first = false
                polling()
            }
            // Exits without packets after them, for the sweep.
            noteExits()
            if let attribution {
                var applied: [FlowOwner] = []
                for owner in attribution.owners.take() {
                    // A resolver first: its own upstream answers must not be credited to it.
                    if owner.isResolver, let process = owner.answer.process { pipeline.names?.markResolver(process) }
                    if pipeline.noteOwner(owner.answer, of: owner.key) { applied.append(owner) }
                }
                // The records hold these answers now (the worker forgets them after a grace period);
                // what did not reach one (the flow ended first) stays with the worker for the row.
                attribution.applied(applied)
            }
            if !pipeline.table.started.isEmpty {
                pipeline.table.refreshStarted()
                // New flows leave at once: attribution must look while the socket still exists.
                pipeline.nameStartedFlows()
                onStart(pipeline.table.started)
                pipeline.table.started.removeAll(keepingCapacity: pipeline.table.started.count <= LiveSession.keptBuffer)
            }
            let now = SystemClock.wallNanoseconds()
            if now - lastSweep >= 500_000_000 {
                // Packet time may stand still on an idle link: expire by the wall clock too.
                pipeline.table.expire(now: now)
                pipeline.table.endFlowsOfExitedOwners(now: now)
                lastSweep = now
                tick(pipeline.counters, capture.statistics())
            }
            drain(sink)
            if let duration = limits.duration, now - started >= duration { break }
            if let frames = limits.frames, pipeline.counters.frames >= frames { break }
            if capture.isExhausted { break }
        }
        statistics = capture.statistics()
        pipeline.table.endAll(reason: .shutdown)
        drain(sink)
    }

    private mutating func drain(_ sink: ([FlowRecord], [FlowRecord]) -> Void) {
        guard !pipeline.table.ended.isEmpty || !pipeline.table.updated.isEmpty else { return }
        pipeline.nameFlows()
        sink(pipeline.table.ended, pipeline.table.updated)
        pipeline.table.ended.removeAll(keepingCapacity: pipeline.table.ended.count <= LiveSession.keptBuffer)
        pipeline.table.updated.removeAll(keepingCapacity: pipeline.table.updated.count <= LiveSession.keptBuffer)
    }

    /// The most flows whose buffer a hand-out keeps for the next one. A burst (100,000 flows ending
    /// at once when their program exits) gives its buffer back: kept, it held 240 bytes a flow, 31 MB,
    /// for the rest of the run.
    static let keptBuffer = 4096
}
