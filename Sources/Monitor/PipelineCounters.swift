public import PacketParsing

/// What the packet path saw: frames, IP packets, and every frame it could not use, by reason.
public struct PipelineCounters: Sendable, Equatable {
    public var frames: Int64 = 0
    public var ipPackets: Int64 = 0
    /// IP-layer bytes of every decoded packet.
    public var ipBytes: Int64 = 0
    /// Valid frames that carry no IP (ARP, LLDP…).
    public var notIP: Int64 = 0
    /// Frames cut short before a header ended.
    public var truncated: Int64 = 0
    /// Frames whose headers hold impossible values.
    public var malformed: Int64 = 0
    public var unsupportedLinkType: Int64 = 0
    /// IP packets not counted because they were a copy of one already counted: the same packet on
    /// another interface of this machine (routed or bridged), or after address translation.
    public var copies: Int64 = 0

    public init() {}

    /// Frames that were skipped as damaged (truncated or malformed).
    public var damaged: Int64 { truncated + malformed }

    
    mutating func count(_ error: DecodeError) {
        switch error {
        case .truncated: truncated += 1
        case .malformed: malformed += 1
        case .notIP: notIP += 1
        case .unsupportedLinkType: unsupportedLinkType += 1
        }
    }
}
