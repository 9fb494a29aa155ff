/// libpcap's counters for a live capture (`pcap_stats`).
public struct CaptureStatistics: Sendable, Equatable {
    /// Packets the kernel passed to the capture.
    public var received: UInt64
    /// Packets dropped because the capture buffer was full.
    public var dropped: UInt64
    /// Packets the interface or its driver dropped.
    public var interfaceDropped: UInt64

    public init(received: UInt64 = 0, dropped: UInt64 = 0, interfaceDropped: UInt64 = 0) {
        self.received = received
        self.dropped = dropped
        self.interfaceDropped = interfaceDropped
    }

    public static func + (a: CaptureStatistics, b: CaptureStatistics) -> CaptureStatistics {
        CaptureStatistics(
            received: a.received + b.received, dropped: a.dropped + b.dropped,
            interfaceDropped: a.interfaceDropped + b.interfaceDropped)
    }
}

/// A network interface as libpcap lists it.
public struct NetworkInterface: Sendable, Equatable {
    public var name: String
    public var isLoopback: Bool
    public var isUp: Bool
    public var isRunning: Bool
    public var addresses: [IPAddressText]

    /// An address kept as text and parsed by the caller, so no C type crosses the module boundary.
    public typealias IPAddressText = String
}
