import Glibc
import Posix

/// An error from a netlink system call: which operation, and the errno text.
public struct NetlinkError: Error, Sendable, Equatable, CustomStringConvertible {
    public var operation: String
    public var code: Int32
    public var description: String { "\(SystemError(operation, code: code)) (errno \(code))" }

    /// ENOENT from sock_diag: no socket matches the exact request.
    var isNoSuchSocket: Bool { code == ENOENT }
}

/// A netlink socket: the only type in this target that makes netlink system calls or touches C pointers.
///
/// Owns its descriptor and closes it in `deinit`. Not thread-safe: each instance has one owner
/// (the lookup state of an `Attributor`, or the process-event thread). Every buffer handed to the
/// kernel is a Swift array pinned for the duration of the call only.
final class NetlinkSocket {
    static let protocolSockDiag: Int32 = 4
    static let protocolConnector: Int32 = 11

    let descriptor: Int32
    private var sequence: UInt32 = 1
    private var receiveBuffer = [UInt8](repeating: 0, count: 1 << 16)

    /// Opens a netlink socket of `netlinkProtocol`, bound to `groups` (the connector's CN_IDX_PROC).
    /// The corresponding C functions are `socket` and `bind`.
    init(netlinkProtocol: Int32, groups: UInt32 = 0) throws(NetlinkError) {
        let fd = socket(AF_NETLINK, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), netlinkProtocol)
        guard fd >= 0 else { throw NetlinkError(operation: "socket(AF_NETLINK, \(netlinkProtocol))", code: errno) }
        // Port id 0: the kernel assigns a unique one.
        let bound = NetlinkSocket.withNetlinkAddress(groups: groups) { address, length in bind(fd, address, length) }
        guard bound == 0 else {
            let code = errno
            close(fd)
            throw NetlinkError(operation: "bind(netlink \(netlinkProtocol))", code: code)
        }
        descriptor = fd
        if groups != 0 {
            // A bigger queue lowers the chance of ENOBUFS when a burst of processes starts.
            var size: Int32 = 4 << 20
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    deinit { close(descriptor) }

    /// Calls `body` with a `sockaddr_nl` (family AF_NETLINK, port id 0 = the kernel or "assign one",
    /// `groups`), which Glibc's Swift module does not export: 12 bytes laid out as family u16, pad u16,
    /// pid u32, groups u32. The storage is a `sockaddr_storage` (large and aligned enough for any address)
    /// that lives for the duration of `body` only.
    static func withNetlinkAddress<R>(groups: UInt32, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var storage = sockaddr_storage()
        return withUnsafeMutableBytes(of: &storage) { raw in
            raw.storeBytes(of: UInt16(AF_NETLINK), toByteOffset: 0, as: UInt16.self)
            raw.storeBytes(of: UInt32(0), toByteOffset: 4, as: UInt32.self)
            raw.storeBytes(of: groups, toByteOffset: 8, as: UInt32.self)
            // sockaddr_storage begins with the family field like every sockaddr, so viewing it as one is valid.
            let address = raw.baseAddress.map { $0.assumingMemoryBound(to: sockaddr.self) }
            guard let address else { return body(UnsafePointer(bitPattern: 1).unsafelyUnwrapped, 0) }
            return body(address, 12)
        }
    }

    /// The next sequence number for a request.
    func nextSequence() -> UInt32 {
        sequence &+= 1
        return sequence
    }

    /// Sends one datagram to the kernel. The corresponding C function is `sendto`.
    func send(_ bytes: [UInt8]) throws(NetlinkError) {
        let sent = bytes.withUnsafeBytes { buffer -> Int in
            NetlinkSocket.withNetlinkAddress(groups: 0) { address, length in
                sendto(descriptor, buffer.baseAddress, buffer.count, 0, address, length)
            }
        }
        guard sent == bytes.count else { throw NetlinkError(operation: "sendto(netlink)", code: errno) }
    }

    /// Waits up to `timeoutMilliseconds` for a datagram; nil on timeout. The corresponding C functions are `poll` and `recv`.
    func receive(timeoutMilliseconds: Int32) throws(NetlinkError) -> [UInt8]? {
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        while true {
            let ready = poll(&entry, 1, timeoutMilliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                throw NetlinkError(operation: "poll(netlink)", code: errno)
            }
            if ready == 0 { return nil }
            break
        }
        while true {
            let count = receiveBuffer.withUnsafeMutableBytes { buffer in
                recv(descriptor, buffer.baseAddress, buffer.count, 0)
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw NetlinkError(operation: "recv(netlink)", code: errno)
            }
            return Array(receiveBuffer[0..<count])
        }
    }

    /// Sends a request and collects the answer's messages until NLMSG_DONE (dumps) or the first
    /// answer (single requests). An NLMSG_ERROR with a non-zero code throws.
    func exchange(type: UInt16, flags: UInt16, payload: [UInt8], timeoutMilliseconds: Int32 = 1000) throws(NetlinkError) -> [NetlinkMessages.Message] {
        let sequence = nextSequence()
        try send(NetlinkMessages.message(type: type, flags: flags, sequence: sequence, payload: payload))
        var collected: [NetlinkMessages.Message] = []
        let isDump = flags & NetlinkMessages.flagDump != 0
        while true {
            guard let datagram = try receive(timeoutMilliseconds: timeoutMilliseconds) else {
                throw NetlinkError(operation: "netlink answer", code: ETIMEDOUT)
            }
            for message in NetlinkMessages.split(datagram) where message.sequence == sequence {
                switch message.type {
                case NetlinkMessages.typeDone:
                    return collected
                case NetlinkMessages.typeError:
                    let code = NetlinkMessages.errorCode(message.payload)
                    if code == 0 { return collected }
                    throw NetlinkError(operation: "netlink request type \(type)", code: code)
                default:
                    collected.append(message)
                    if !isDump { return collected }
                }
            }
        }
    }
}
