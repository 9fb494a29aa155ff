/// What the daemon reports about itself to the metrics: counters since its start and its state now.
public struct DaemonHealth: Sendable, Equatable {
    /// When the daemon started, in nanoseconds since the epoch.
    public var started: Int64 = 0
    public var frames: Int64 = 0
    /// Packets the kernel handed to the capture, and those it dropped (socket buffer, interface).
    public var received: Int64 = 0
    public var kernelDropped: Int64 = 0
    public var interfaceDropped: Int64 = 0
    /// Flows dropped between the capture and the store (a full hand-off, a full store queue).
    public var flowQueueDropped: Int64 = 0
    /// Socket events the kernel's ring buffer dropped.
    public var socketEventsDropped: Int64 = 0
    /// Payload bytes content inspection could not read (`content_dropped`); nil when it is off.
    public var contentDropped: Int64?
    /// Content alerts and prompts fingerprinted since the start (content inspection on).
    public var promptsFingerprinted: Int64 = 0
    public var flowsWritten: Int64 = 0
    public var flowsWaiting: Int64 = 0
    /// `ok`, `disk full` or `write failing`.
    public var storeState = "ok"
    /// When the store last committed, in nanoseconds since the epoch (0: not yet).
    public var lastWrite: Int64 = 0
    /// `kernel-events`, `polling` or `off`.
    public var attribution = "off"
    /// Alerts raised since the start, by severity.
    public var alertsBySeverity: [String: Int64] = [:]

    public init() {}
}
