/// The packet path's counters over one interval, stored as a row of `capture_stats`.
public struct CaptureInterval: Sendable, Equatable {
    /// End of the interval, nanoseconds since the epoch.
    public var time: Int64
    /// Length of the interval in nanoseconds.
    public var interval: Int64
    public var frames: Int64
    public var ipPackets: Int64
    public var ipBytes: Int64
    public var damaged: Int64
    /// Kernel counters over the interval (differences of `pcap_stats`).
    public var received: Int64
    public var dropped: Int64
    public var interfaceDropped: Int64
    /// Flows the hand-off to the writer had to drop (full queue while the disk was full, say).
    public var queueDropped: Int64
    /// Socket events the kernel dropped because the ring buffer was full (flows then fall back to polling).
    public var eventDropped: Int64 = 0

    public init(
        time: Int64, interval: Int64, frames: Int64 = 0, ipPackets: Int64 = 0, ipBytes: Int64 = 0, damaged: Int64 = 0,
        received: Int64 = 0, dropped: Int64 = 0, interfaceDropped: Int64 = 0, queueDropped: Int64 = 0
    ) {
        self.time = time
        self.interval = interval
        self.frames = frames
        self.ipPackets = ipPackets
        self.ipBytes = ipBytes
        self.damaged = damaged
        self.received = received
        self.dropped = dropped
        self.interfaceDropped = interfaceDropped
        self.queueDropped = queueDropped
    }
}
