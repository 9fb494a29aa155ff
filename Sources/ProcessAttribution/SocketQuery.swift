public import PacketParsing

/// The local socket a flow belongs to, as the capture saw it: protocol and both endpoints, facing this machine.
///
/// For ICMP and ICMPv6 echo flows `localPort` is the echo identifier (a ping socket's "port") and
/// `remotePort` is zero.
public struct SocketQuery: Hashable, Sendable {
    /// What the capture knows about the flow beyond its endpoints, so that a miss gets the right reason.
    public enum Hint: UInt8, Sendable, Hashable {
        /// Nothing more is known.
        case none
        /// The flow is an ICMP error message (unreachable, time exceeded, too big, parameter problem):
        /// the kernel writes those.
        case icmpError
        /// The only thing the local side sent is a TCP reset: the kernel answering for a closed port.
        case tcpResetFromLocal
        /// The remote side started the flow (an inbound SYN, an inbound echo request).
        case initiatedRemotely
        /// The frame was not written by a socket of the IP stack (ARP, a packet socket, a bridge).
        case rawFrame
    }

    /// The IP protocol number: 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, 132 SCTP, anything else is raw IP.
    public var ipProtocol: UInt8
    public var localAddress: IPAddress
    public var localPort: UInt16
    public var remoteAddress: IPAddress
    public var remotePort: UInt16
    public var hint: Hint
    /// The local address is one of this namespace's own (or loopback): the socket cannot be in another
    /// network namespace, so a miss need not search them.
    public var localAddressIsOwn = false
    /// The local side opened a TCP connection (it sent the SYN): a new socket, whatever owned these
    /// endpoints before. An earlier connection's owner is never its answer.
    public var opensConnection = false

    public init(
        ipProtocol: UInt8, localAddress: IPAddress, localPort: UInt16,
        remoteAddress: IPAddress, remotePort: UInt16, hint: Hint = .none
    ) {
        self.ipProtocol = ipProtocol
        self.localAddress = localAddress
        self.localPort = localPort
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
        self.hint = hint
    }

    /// The same endpoints seen from the other end: local and remote swapped.
    public var reversed: SocketQuery {
        var copy = self
        copy.localAddress = remoteAddress
        copy.localPort = remotePort
        copy.remoteAddress = localAddress
        copy.remotePort = localPort
        return copy
    }

    /// The key of the sticky cache: the endpoints without the hint.
    var endpoints: SocketQuery {
        var copy = self
        copy.hint = .none
        copy.opensConnection = false
        if let v4 = localAddress.unmappedV4 { copy.localAddress = v4 }
        if let v4 = remoteAddress.unmappedV4 { copy.remoteAddress = v4 }
        return copy
    }
}
