public import PacketParsing

/// One socket as the kernel lists it (a line of `/proc/net/tcp`, or a sock_diag answer).
public struct SocketEntry: Sendable, Hashable {
    /// The IP protocol number of the table the entry came from (for raw sockets: 255, see `localPort`).
    public var ipProtocol: UInt8
    public var localAddress: IPAddress
    /// The local port; for raw sockets the protocol they were opened for; for ping sockets the echo identifier.
    public var localPort: UInt16
    public var remoteAddress: IPAddress
    public var remotePort: UInt16
    /// The kernel's state number (TCP: 1 established … 10 listen; UDP: 7 unconnected, 1 connected).
    public var state: UInt8
    public var uid: UInt32
    /// The socket inode (`socket:[INODE]` in /proc/PID/fd); zero for sockets no file refers to (TIME_WAIT, orphans).
    public var inode: UInt64
    /// The kernel's socket cookie (sock_diag only; zero from /proc/net tables).
    public var cookie: UInt64 = 0

    public init(
        ipProtocol: UInt8, localAddress: IPAddress, localPort: UInt16, remoteAddress: IPAddress,
        remotePort: UInt16, state: UInt8, uid: UInt32, inode: UInt64
    ) {
        self.ipProtocol = ipProtocol
        self.localAddress = localAddress
        self.localPort = localPort
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
        self.state = state
        self.uid = uid
        self.inode = inode
    }

    /// TCP's listening state number.
    public static let tcpListen: UInt8 = 10
}

/// The tables in `/proc/net` (also `/proc/PID/net`) that list sockets.
public enum SocketTableKind: String, Sendable, CaseIterable {
    case tcp, tcp6, udp, udp6, raw, raw6, icmp, icmp6, udplite, udplite6

    /// The protocol number the table's sockets speak (raw tables: 255; their `localPort` holds the protocol).
    public var ipProtocol: UInt8 {
        switch self {
        case .tcp, .tcp6: IPProtocolNumber.tcp
        case .udp, .udp6: IPProtocolNumber.udp
        case .udplite, .udplite6: IPProtocolNumber.udpLite
        case .icmp: IPProtocolNumber.icmp
        case .icmp6: IPProtocolNumber.icmpv6
        // IPPROTO_RAW: what the kernel's raw tables answer for any protocol.
        case .raw, .raw6: 255
        }
    }

    public var isIPv6: Bool {
        switch self {
        case .tcp6, .udp6, .raw6, .icmp6, .udplite6: true
        default: false
        }
    }

    /// The tables to search for a flow of protocol `ipProtocol`.
    public static func tables(for ipProtocol: UInt8) -> [SocketTableKind] {
        switch ipProtocol {
        case IPProtocolNumber.tcp: [.tcp, .tcp6]
        case IPProtocolNumber.udp: [.udp, .udp6]
        case IPProtocolNumber.udpLite: [.udplite, .udplite6]
        case IPProtocolNumber.icmp: [.icmp, .raw]
        case IPProtocolNumber.icmpv6: [.icmp6, .raw6]
        default: [.raw, .raw6]
        }
    }
}
