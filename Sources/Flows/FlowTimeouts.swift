/// How long flows live in the table, in nanoseconds.
public struct FlowTimeouts: Sendable, Equatable {
    /// An open TCP connection with no packets for this long has ended.
    public var tcpIdle: Int64
    /// A TCP connection that closed (FIN both ways, or a reset) ends this long after its last packet,
    /// so that the final ACKs still count.
    public var tcpClosed: Int64
    public var udpIdle: Int64
    public var icmpIdle: Int64
    public var otherIdle: Int64
    /// A flow that is still active is handed out as an update this often (0 turns updates off): the
    /// daemon writes open flows at this pace, so a crash loses seconds of evidence, not a minute.
    public var active: Int64

    public static let second: Int64 = 1_000_000_000

    public init(
        tcpIdle: Int64 = 300 * second, tcpClosed: Int64 = 2 * second, udpIdle: Int64 = 60 * second,
        icmpIdle: Int64 = 30 * second, otherIdle: Int64 = 60 * second, active: Int64 = 3 * second
    ) {
        self.tcpIdle = tcpIdle
        self.tcpClosed = tcpClosed
        self.udpIdle = udpIdle
        self.icmpIdle = icmpIdle
        self.otherIdle = otherIdle
        self.active = active
    }
}
