public import PacketParsing

/// One report from the kernel's socket-event programs: a process used a socket, or a process started
/// a program. Decoded from the ring buffer by `KernelSocketEvents`; plain data from here on.
public struct SocketEvent: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A process sent or received through a socket (or its connect completed).
        case socket(Operation)
        /// A process replaced its program (execve): `path` is the new executable.
        case exec
    }

    /// What the process did with the socket.
    public enum Operation: UInt8, Sendable, Equatable {
        case send = 1
        case receive = 2
        /// A TCP connect reached ESTABLISHED or failed; the owner is the process that called connect().
        case connect = 3
    }

    /// How the socket is addressed, which decides how flows find it.
    public enum SocketClass: Sendable, Equatable {
        /// TCP, UDP, UDP-Lite, ping sockets: found by their ports (a ping socket's port is its echo identifier).
        case ported
        /// A raw IP socket of one protocol: it has no port, so its sends are matched by time.
        case rawIP
        /// An AF_PACKET socket: it writes whole frames, matched by time.
        case packet
    }

    public var kind: Kind
    public var socketClass: SocketClass
    /// The process (thread group id in the initial pid namespace) and its start time in clock ticks
    /// since boot (`/proc/PID/stat` field 22), which together name one process across pid reuse.
    public var pid: Int32
    public var startTime: UInt64
    public var ppid: Int32
    public var comm: String
    /// Network namespace inode of the socket (for exec events: zero).
    public var netns: UInt64
    /// The kernel's socket cookie: unique for the life of the boot.
    public var cookie: UInt64
    /// Wall-clock nanoseconds since the epoch (converted from the kernel's monotonic clock).
    public var time: Int64
    /// IP protocol of the socket (TCP 6, UDP 17, ICMP 1, ICMPv6 58, or a raw socket's protocol).
    public var ipProtocol: UInt8
    public var localAddress: IPAddress
    public var localPort: UInt16
    public var remoteAddress: IPAddress
    public var remotePort: UInt16
    /// Bytes of the send (raw and packet sockets only).
    public var bytes: UInt32
    /// The executable of an exec event.
    public var path: String?

    public init(
        kind: Kind, socketClass: SocketClass = .ported, pid: Int32, startTime: UInt64, ppid: Int32 = 0, comm: String,
        netns: UInt64 = 0, cookie: UInt64 = 0, time: Int64, ipProtocol: UInt8 = 0,
        localAddress: IPAddress = IPAddress(v4: 0), localPort: UInt16 = 0,
        remoteAddress: IPAddress = IPAddress(v4: 0), remotePort: UInt16 = 0, bytes: UInt32 = 0, path: String? = nil
    ) {
        self.kind = kind
        self.socketClass = socketClass
        self.pid = pid
        self.startTime = startTime
        self.ppid = ppid
        self.comm = comm
        self.netns = netns
        self.cookie = cookie
        self.time = time
        self.ipProtocol = ipProtocol
        self.localAddress = localAddress
        self.localPort = localPort
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
        self.bytes = bytes
        self.path = path
    }
}
