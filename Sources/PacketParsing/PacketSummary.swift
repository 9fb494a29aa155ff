/// What the decoder learned from one frame: addresses, protocol, ports, sizes and TCP flags.
///
/// A plain value with no references, so that decoding a packet allocates nothing.
public struct PacketSummary: Sendable, Equatable {
    /// Direction of the frame as the link layer told it (Linux cooked headers say so).
    public enum LinkDirection: UInt8, Sendable {
        case unknown, incoming, outgoing
    }

    /// Capture time in nanoseconds since the Unix epoch (set by the capture source).
    public var timestamp: Int64 = 0
    public var source: IPAddress = IPAddress(v4: 0)
    public var destination: IPAddress = IPAddress(v4: 0)
    /// The transport protocol number after any IPv6 extension headers.
    public var ipProtocol: UInt8 = 0
    /// Source port for TCP, UDP and SCTP; zero otherwise.
    public var sourcePort: UInt16 = 0
    /// Destination port for TCP, UDP and SCTP; zero otherwise.
    public var destinationPort: UInt16 = 0
    public var icmpType: UInt8 = 0
    public var icmpCode: UInt8 = 0
    /// The ICMP echo identifier (or other query identifier); zero for ICMP messages that carry none.
    public var icmpIdentifier: UInt16 = 0
    /// Length at the IP layer: the IP total length (IPv4) or payload length plus 40 (IPv6).
    public var ipLength: Int = 0
    /// TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80).
    public var tcpFlags: UInt8 = 0
    /// Transport payload length as the headers declare it (TCP and UDP), whether captured or not.
    public var payloadLength: Int = 0
    /// Offset of the transport payload inside the captured frame, or -1 when there is none.
    public var payloadOffset: Int = -1
    /// Whether this is a fragment of a larger IP datagram.
    public var isFragment: Bool = false
    /// Whether this is a fragment after the first: it carries no transport header.
    public var isLaterFragment: Bool = false
    /// The fragment identification (IPv4 16 bits, IPv6 32 bits).
    public var fragmentIdentifier: UInt32 = 0
    /// The outermost 802.1Q VLAN id, or zero.
    public var vlan: UInt16 = 0
    public var linkDirection: LinkDirection = .unknown
    /// Interface index from a Linux cooked v2 header, or zero.
    public var interfaceIndex: Int32 = 0
    /// The IPv4 time to live or IPv6 hop limit.
    public var hopLimit: UInt8 = 0
    /// On captures that name each packet's interface (cooked v2): a hash of the fields that address
    /// translation leaves alone (IP length and identification or flow label, TCP sequence and
    /// acknowledgement numbers, flags and window, the first payload bytes), so that the copy of a
    /// routed packet on its way out can be matched with the copy that came in. Zero elsewhere.
    public var copyFingerprint: UInt64 = 0

    public init() {}

    public var ipVersion: Int { source.family == .v4 ? 4 : 6 }
}

/// IP protocol numbers used by name.
public enum IPProtocolNumber {
    public static let icmp: UInt8 = 1
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
    public static let icmpv6: UInt8 = 58
    public static let sctp: UInt8 = 132
    public static let udpLite: UInt8 = 136
}
