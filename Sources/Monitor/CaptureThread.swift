public import Capture
import Foundation
public import Flows
public import Reporting
public import Posix
import ProcessAttribution
import Synchronization

/// A live capture on its own thread: the thread owns the pcap handles and the flow table; flows
/// leave through bounded hand-offs, new flows go to attribution at once, and the packet path's
/// counters are published once a second. Used by the daemon, `capture` and `run`.
public final class CaptureThread: Sendable {
    /// A flow leaving the capture: ended, or still open (an active-timeout update).
    public struct Handed: Sendable {
        public var record: FlowRecord
        public var isOpen: Bool
    }

    /// Flows for the consumer; when full, flows are dropped and counted.
    public let flows = HandOff<Handed>(capacity: 500_000)
    /// Flows that just started (with the name their destination had then), for policy at the first
    /// packet; only when `reportsStarts`.
    public let started = HandOff<FlowRecord>(capacity: 100_000)
    /// Counter intervals for `capture_stats`, every `intervalLength` and at the end.
    public let intervals = HandOff<CaptureInterval>(capacity: 10_000)
    public let stop = StopSignal()
    private let done = Atomic<Bool>(false)
    /// Set once the thread has opened its loop and read the ring for the first time.
    private let draining = Atomic<Bool>(false)
    private let counters = Mutex((PipelineCounters(), CaptureStatistics()))
    private let tapSummary = Mutex<CaptureTap.Summary?>(nil)

    /// Starts capturing. The capture object (and the tap, which copies every frame to a file) are
    /// the thread's from here on: the caller must not use them.
    public init(
        capture: any PacketSource, timeouts: FlowTimeouts, names: Bool = true, attribution: AttributionWorker?,
        reportsStarts: Bool = false,
        limits: LiveSession.Limits = LiveSession.Limits(), intervalLength: Int64 = 10_000_000_000,
        contentTap: ContentTap? = nil, tap: CaptureTap? = nil
    ) {
        let started = SystemClock.wallNanoseconds()
        let flows = self.flows, intervals = self.intervals, stop = self.stop
        // Ownership of `capture` and `tap` passes to the thread; no other thread touches them again.
        nonisolated(unsafe) let owned = capture
        nonisolated(unsafe) let ownedTap = tap
        let thread = Thread { [self] in
            var session = LiveSession(
                capture: owned, timeouts: timeouts,
                uidSeed: UInt64(bitPattern: started) ^ UInt64(ProcessInfo.processInfo.processIdentifier),
                names: names, reportsStarts: attribution != nil, contentTap: contentTap)
            session.tap = ownedTap
            var lastCounters = PipelineCounters(), lastStats = CaptureStatistics(), lastTime = started
            var lastEventDropped: Int64 = 0
            func record(_ c: PipelineCounters, _ s: CaptureStatistics, force: Bool) {
                let now = SystemClock.wallNanoseconds()
                guard now - lastTime >= intervalLength || force else { return }
                let eventDropped = attribution?.eventsDropped ?? 0
                var interval = CaptureInterval(
                    time: now, interval: now - lastTime, frames: c.frames - lastCounters.frames,
                    ipPackets: c.ipPackets - lastCounters.ipPackets, ipBytes: c.ipBytes - lastCounters.ipBytes,
                    damaged: c.damaged - lastCounters.damaged,
                    received: Int64(s.received) - Int64(lastStats.received),
                    dropped: Int64(s.dropped) - Int64(lastStats.dropped),
                    interfaceDropped: Int64(s.interfaceDropped) - Int64(lastStats.interfaceDropped),
                    queueDropped: flows.dropped)
                interval.eventDropped = eventDropped - lastEventDropped
                lastEventDropped = eventDropped
                intervals.push([interval])
                lastCounters = c
                lastStats = s
                lastTime = now
            }
            session.run(stop: stop, limits: limits, tick: { c, s in
                self.counters.withLock { $0 = (c, s) }
                record(c, s, force: false)
            }, onStart: { records in
                attribution?.flowsStarted(records)
                if reportsStarts { self.started.push(records) }
            }, attribution: attribution, polling: { self.draining.store(true, ordering: .releasing) }) { ended, updated in
                flows.push(updated.map { Handed(record: $0, isOpen: true) })
                flows.push(ended.map { Handed(record: $0, isOpen: false) })
            }
            record(session.pipeline.counters, session.statistics, force: true)
            self.counters.withLock { $0 = (session.pipeline.counters, session.statistics) }
            if let tap = session.tap { self.tapSummary.withLock { $0 = tap.close() } }
            self.done.store(true, ordering: .releasing)
        }
        thread.name = "telltale-capture"
        thread.start()
    }

    /// Waits until the thread reads the capture (at most `timeoutMilliseconds`); false on timeout.
    public func waitUntilDraining(timeoutMilliseconds: Int = 5_000) -> Bool {
        let deadline = SystemClock.monotonicNanoseconds() + Int64(timeoutMilliseconds) * 1_000_000
        while !draining.load(ordering: .acquiring) {
            if isFinished || SystemClock.monotonicNanoseconds() >= deadline { return draining.load(ordering: .acquiring) }
            usleep(1_000)
        }
        return true
    }

    /// Whether the capture has ended and handed out every flow.
    public var isFinished: Bool { done.load(ordering: .acquiring) }

    /// What the tap copied to its file; nil without a tap, or until the capture has finished.
    public var tapped: CaptureTap.Summary? { tapSummary.withLock { $0 } }

    /// The latest packet-path counters and kernel statistics (final once finished).
    public var snapshot: (PipelineCounters, CaptureStatistics) { counters.withLock { $0 } }
}
