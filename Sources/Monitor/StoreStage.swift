public import FlowStore
import Flows
public import Logging
public import Reporting

/// The daemon's store stage: decided flows wait here and are committed in batches, one transaction
/// per flush interval. When writing fails (a full disk) capture goes on: flows wait in memory,
/// bounded and counted, and writing resumes when it can.
///
/// Driven by the daemon's loop with the time passed in, so it runs in tests without a clock.
public struct StoreStage {
    public let writer: FlowWriter
    /// How often to commit, in nanoseconds.
    public var flushInterval: Int64
    /// At most this many flows wait; past it the oldest are dropped and counted.
    public var maxPending: Int
    /// A batch this large is committed at once, whatever the interval: a burst (100,000 open flows
    /// checkpointed) goes to the database in slices rather than piling up in memory.
    public var batchLimit = 10_000
    private(set) var pending: [FlowWriter.Entry] = []
    private(set) var pendingIntervals: [CaptureInterval] = []
    private var nextWrite: Int64 = 0
    /// `ok`, `disk full` or `write failing`.
    public private(set) var state = "ok"
    /// Flows committed since the start.
    public private(set) var written: Int64 = 0
    /// Flows dropped because too many waited.
    public private(set) var dropped: Int64 = 0

    public init(writer: FlowWriter, flushInterval: Int64, maxPending: Int = 1_000_000) {
        self.writer = writer
        self.flushInterval = flushInterval
        self.maxPending = maxPending
    }

    /// Flows waiting to be written.
    public var waiting: Int { pending.count }

    /// Queues decided flows and capture intervals for the next commit.
    public mutating func add(_ rows: [(row: FlowRow, isOpen: Bool)], intervals: [CaptureInterval]) {
        pending += rows.map { FlowWriter.Entry(row: $0.row, isOpen: $0.isOpen) }
        pendingIntervals += intervals
        if pending.count > maxPending {
            // Memory is bounded even when the disk stays full: the oldest waiting flows go, counted.
            let excess = pending.count - maxPending
            pending.removeFirst(excess)
            dropped += Int64(excess)
        }
    }

    /// What a flush did, for the daemon's log and its systemd status.
    public enum Outcome: Equatable, Sendable {
        case nothingDue
        case written(Int)
        /// Writing resumed after failures.
        case resumed(Int)
        /// Writing failed (first failure of a kind; repeats are `stillFailing`).
        case failed(state: String, message: String)
        case stillFailing
    }

    /// Commits what waits when a flush is due (or `force`). `queueDropped` (flows the capture's
    /// hand-off dropped) is recorded with the last interval.
    public mutating func flush(now: Int64, force: Bool = false, queueDropped: Int64 = 0) -> Outcome {
        guard now >= nextWrite || force || pending.count >= batchLimit, !pending.isEmpty || !pendingIntervals.isEmpty else {
            return .nothingDue
        }
        let totalDropped = queueDropped + dropped
        if totalDropped > 0, var last = pendingIntervals.last {
            last.queueDropped = totalDropped
            pendingIntervals[pendingIntervals.count - 1] = last
        }
        do {
            try writer.write(pending, intervals: pendingIntervals)
            let count = pending.count
            written += Int64(count)
            // A burst's buffer is let go: keeping its capacity would pin the burst's memory.
            pending.removeAll(keepingCapacity: count <= batchLimit)
            pendingIntervals.removeAll()
            nextWrite = now.addingSaturating(flushInterval)
            if state != "ok" {
                state = "ok"
                return .resumed(count)
            }
            return .written(count)
        } catch {
            let newState = error.kind == .diskFull ? "disk full" : "write failing"
            nextWrite = now + 2_000_000_000
            if state != newState {
                state = newState
                return .failed(state: newState, message: "\(error)")
            }
            return .stillFailing
        }
    }
}
