public import PacketParsing

/// Part of the plaintext a process handed to OpenSSL to send (`SSL_write` or `SSL_write_ex`), as
/// the TLS write probes copied it: one chunk of one successful write.
///
/// A write of `totalLength` bytes arrives as chunks of at most `TLSWrite.chunkLimit` bytes, at most
/// `TLSWrite.chunksPerWrite` of them; the chunks of one write share `thread` and `time`. Bytes past
/// `TLSWrite.copyLimit` are not copied: `uncopiedLength` says how many. The description never shows
/// the bytes.
public struct TLSWrite: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The socket the library wrote this TLS connection's records to, seen during the call.
    public struct Socket: Sendable, Hashable {
        public var localAddress: IPAddress
        public var localPort: UInt16
        public var remoteAddress: IPAddress
        public var remotePort: UInt16
        /// IP protocol number: 6 for TCP, 17 for UDP.
        public var ipProtocol: UInt8
        /// Inode of the socket's network namespace (as in `readlink /proc/PID/ns/net`).
        public var netns: UInt64

        public init(
            localAddress: IPAddress, localPort: UInt16, remoteAddress: IPAddress, remotePort: UInt16,
            ipProtocol: UInt8, netns: UInt64
        ) {
            self.localAddress = localAddress
            self.localPort = localPort
            self.remoteAddress = remoteAddress
            self.remotePort = remotePort
            self.ipProtocol = ipProtocol
            self.netns = netns
        }
    }

    /// Bytes one chunk carries at most.
    public static let chunkLimit = 4008
    /// Chunks copied per write at most.
    public static let chunksPerWrite = 16
    /// Bytes of one write copied at most (64,128).
    public static let copyLimit = UInt64(chunkLimit * chunksPerWrite)

    /// Process id (initial pid namespace).
    public var pid: Int32
    /// Thread id.
    public var thread: Int32
    /// When the write returned, wall-clock nanoseconds; the same for every chunk of one write.
    public var time: Int64
    /// Names the TLS connection within the process (the address of OpenSSL's `SSL` object).
    public var connection: UInt64
    /// Bytes the write reported sent.
    public var totalLength: UInt64
    /// Where `bytes` start within the write.
    public var offset: UInt64
    /// The chunk's plaintext: empty when it could not be read (`unreadable`).
    public var bytes: [UInt8]
    /// The socket the records went to during the call, or nil when the library wrote nowhere then
    /// (a memory BIO, as node's): fall back to the process's TLS flows.
    public var socket: Socket?
    /// The write was `SSL_write_ex`.
    public var extended: Bool
    /// The chunk's bytes could not be read from the process: they count as not copied.
    public var unreadable: Bool

    public init(
        pid: Int32, thread: Int32, time: Int64, connection: UInt64, totalLength: UInt64, offset: UInt64,
        bytes: [UInt8], socket: Socket?, extended: Bool = false, unreadable: Bool = false
    ) {
        self.pid = pid
        self.thread = thread
        self.time = time
        self.connection = connection
        self.totalLength = totalLength
        self.offset = offset
        self.bytes = bytes
        self.socket = socket
        self.extended = extended
        self.unreadable = unreadable
    }

    /// Bytes of this chunk's write past `copyLimit`: counted, never copied (the same on every chunk).
    public var uncopiedLength: UInt64 { totalLength > TLSWrite.copyLimit ? totalLength - TLSWrite.copyLimit : 0 }

    public var description: String {
        "TLSWrite(pid \(pid), thread \(thread), connection \(connection), bytes \(offset)..<\(offset + UInt64(bytes.count)) of \(totalLength))"
    }

    public var debugDescription: String { description }
}
